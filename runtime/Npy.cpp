// NumPy .npy reader and writer.
#include "runtime/Npy.h"
#include "runtime/SizeMath.h"

#include <algorithm>
#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <cstring>

using namespace dlc::rt;

/// The element size of a dtype string of the form <byte order><kind><bytes>
/// ("<f4", "|u1", "=i8"), or 0 when Descr is not of that form (only
/// little-endian or byte-order-free numbers of 1 to 16 bytes).
static size_t elemSize(const std::string &Descr) {
  if (Descr.size() < 3 || Descr.size() > 4)
    return 0;
  if (Descr[0] != '<' && Descr[0] != '|' && Descr[0] != '=')
    return 0;
  if (!std::strchr("fiub", Descr[1]) || Descr[1] == '\0')
    return 0;
  size_t N = 0;
  for (size_t I = 2; I < Descr.size(); ++I) {
    if (Descr[I] < '0' || Descr[I] > '9')
      return 0;
    N = N * 10 + size_t(Descr[I] - '0');
  }
  return N >= 1 && N <= 16 ? N : 0;
}

/// Value of key K in the header dict, e.g. 'descr': '<f4'.
static bool findValue(const std::string &H, const std::string &K,
                      std::string &Out) {
  size_t P = H.find("'" + K + "'");
  if (P == std::string::npos)
    return false;
  P = H.find(':', P);
  if (P == std::string::npos)
    return false;
  ++P;
  while (P < H.size() && H[P] == ' ')
    ++P;
  if (P >= H.size())
    return false;
  size_t E;
  if (H[P] == '\'') {
    E = H.find('\'', P + 1);
    if (E == std::string::npos)
      return false;
    Out = H.substr(P + 1, E - P - 1);
  } else if (H[P] == '(') {
    E = H.find(')', P);
    if (E == std::string::npos)
      return false;
    Out = H.substr(P + 1, E - P - 1);
  } else {
    E = H.find_first_of(",}", P);
    if (E == std::string::npos)
      return false;
    Out = H.substr(P, E - P);
  }
  return true;
}

bool dlc::rt::parseNpy(const std::vector<uint8_t> &B, NpyArray &Out,
                       std::string &Err) {
  static const char Magic[] = "\x93NUMPY";
  if (B.size() < 10 || std::memcmp(B.data(), Magic, 6) != 0) {
    Err = "not a .npy file (bad magic)";
    return false;
  }
  unsigned Major = B[6];
  size_t HeaderLen, Off;
  if (Major == 1) {
    HeaderLen = B[8] | (size_t(B[9]) << 8);
    Off = 10;
  } else if (Major == 2 || Major == 3) {
    if (B.size() < 12) {
      Err = "truncated .npy header";
      return false;
    }
    HeaderLen = B[8] | (size_t(B[9]) << 8) | (size_t(B[10]) << 16) |
                (size_t(B[11]) << 24);
    Off = 12;
  } else {
    Err = "unsupported .npy version " + std::to_string(Major);
    return false;
  }
  if (B.size() < Off + HeaderLen) {
    Err = "truncated .npy header";
    return false;
  }
  std::string H(B.begin() + Off, B.begin() + Off + HeaderLen);
  std::string Descr, Fortran, ShapeS;
  if (!findValue(H, "descr", Descr) || !findValue(H, "fortran_order", Fortran) ||
      !findValue(H, "shape", ShapeS)) {
    Err = "malformed .npy header: " + H;
    return false;
  }
  if (Fortran.find("True") != std::string::npos) {
    Err = "Fortran-order arrays are not supported; save with "
          "np.ascontiguousarray";
    return false;
  }
  if (elemSize(Descr) == 0) {
    Err = "unsupported dtype '" + Descr + "' (little-endian numbers only)";
    return false;
  }
  Out.Descr = Descr;
  Out.Shape.clear();
  size_t P = 0;
  int64_t N = 1;
  while (P < ShapeS.size()) {
    while (P < ShapeS.size() && (ShapeS[P] == ' ' || ShapeS[P] == ','))
      ++P;
    if (P >= ShapeS.size())
      break;
    char *End;
    long long V = std::strtoll(ShapeS.c_str() + P, &End, 10);
    if (End == ShapeS.c_str() + P || V < 0 || V > (1ll << 40)) {
      Err = "malformed .npy shape (" + ShapeS + ")";
      return false;
    }
    Out.Shape.push_back(V);
    if (!mulSize(N, V, N) || N > (1ll << 40)) {
      Err = "array too large: shape (" + ShapeS + ")";
      return false;
    }
    P = End - ShapeS.c_str();
  }
  size_t ES = elemSize(Descr);
  if (ES == 0) {
    Err = "unsupported dtype '" + Descr + "'";
    return false;
  }
  size_t Need, Have = B.size() - Off - HeaderLen;
  if (!bytesOf(N, int64_t(ES), Need)) {
    Err = "array too large: shape (" + ShapeS + ")";
    return false;
  }
  if (Have < Need) {
    Err = "truncated .npy data: expected " + std::to_string(Need) +
          " bytes, found " + std::to_string(Have);
    return false;
  }
  Out.Data.assign(B.begin() + Off + HeaderLen,
                  B.begin() + Off + HeaderLen + Need);
  return true;
}

bool dlc::rt::readNpy(const std::string &Path, NpyArray &Out,
                      std::string &Err) {
  FILE *F = std::fopen(Path.c_str(), "rb");
  if (!F) {
    Err = "cannot open '" + Path + "': " + std::strerror(errno);
    return false;
  }
  std::vector<uint8_t> B;
  uint8_t Buf[65536];
  size_t N;
  while ((N = std::fread(Buf, 1, sizeof(Buf), F)) > 0)
    B.insert(B.end(), Buf, Buf + N);
  std::fclose(F);
  if (!parseNpy(B, Out, Err)) {
    Err = "'" + Path + "': " + Err;
    return false;
  }
  return true;
}

std::vector<uint8_t> dlc::rt::serializeNpy(const NpyArray &A) {
  std::string H = "{'descr': '" + A.Descr + "', 'fortran_order': False, 'shape': (";
  for (size_t I = 0; I < A.Shape.size(); ++I)
    H += std::to_string(A.Shape[I]) + (A.Shape.size() == 1 || I + 1 < A.Shape.size() ? ", " : "");
  H += "), }";
  size_t Total = 10 + H.size() + 1;
  H.append((64 - Total % 64) % 64, ' ');
  H += '\n';
  const uint8_t Head[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                            uint8_t(H.size() & 0xff), uint8_t(H.size() >> 8)};
  std::vector<uint8_t> B(10 + H.size() + A.Data.size());
  std::copy(Head, Head + 10, B.begin());
  std::copy(H.begin(), H.end(), B.begin() + 10);
  std::copy(A.Data.begin(), A.Data.end(), B.begin() + 10 + H.size());
  return B;
}

bool dlc::rt::writeNpy(const std::string &Path, const NpyArray &A,
                       std::string &Err) {
  // Never write a file the reader refuses.
  int64_t N;
  size_t Bytes;
  if (elemSize(A.Descr) == 0) {
    Err = "cannot write '" + Path + "': unsupported dtype '" + A.Descr + "'";
    return false;
  }
  if (!productOf(A.Shape, N) ||
      !bytesOf(N, int64_t(elemSize(A.Descr)), Bytes) || Bytes != A.Data.size()) {
    Err = "cannot write '" + Path + "': the shape does not match the " +
          std::to_string(A.Data.size()) + " data bytes";
    return false;
  }
  std::vector<uint8_t> B = serializeNpy(A);
  FILE *F = std::fopen(Path.c_str(), "wb");
  if (!F) {
    Err = "cannot write '" + Path + "': " + std::strerror(errno);
    return false;
  }
  bool Ok = std::fwrite(B.data(), 1, B.size(), F) == B.size();
  Ok &= std::fclose(F) == 0;
  if (!Ok)
    Err = "error writing '" + Path + "'";
  return Ok;
}
