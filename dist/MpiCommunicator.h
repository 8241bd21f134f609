// The communicator over MPI (MPI_COMM_WORLD). Built with MPI only when CMake
// finds it (DLC_HAVE_MPI); otherwise createMpiCommunicator says that dlc was
// built without MPI, so callers need no #if of their own.
#ifndef DLC_DIST_MPICOMMUNICATOR_H
#define DLC_DIST_MPICOMMUNICATOR_H

#include "dist/Communicator.h"

#include <memory>

namespace dlc {

struct MpiOptions {
  /// A collective that has not finished after this many seconds ends this
  /// process with an error naming the collective (a rank is stuck or far
  /// behind: never a silent hang); 0 waits forever. A rank that dies is
  /// noticed by the launcher, which ends the others.
  double TimeoutSeconds = 600;
};

/// Whether this dlc was built with MPI.
bool builtWithMpi();

/// What a build without MPI says when MPI is asked for.
extern const char *const NoMpiMessage;

/// Initializes MPI (MPI_Init_thread, funneled: only the calling thread
/// talks to MPI) and returns a communicator over MPI_COMM_WORLD whose MPI
/// errors come back as llvm::Errors; MPI is finalized when it is
/// destroyed. One per process. Errors: dlc was built without MPI,
/// MPI_Init failed, MPI was already initialized.
llvm::Expected<std::unique_ptr<Communicator>>
createMpiCommunicator(const MpiOptions &Opts = {});

} // namespace dlc

#endif
