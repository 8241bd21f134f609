// Parser for the textual graph IR.
#ifndef DLC_IR_PARSER_H
#define DLC_IR_PARSER_H

#include "ir/IR.h"

#include "llvm/ADT/StringMap.h"

namespace dlc {

/// Parses a module. FileName is used in error locations; FirstLine offsets
/// line numbers (for chunks of a --split-input-file). Every op is checked
/// against the op table and shape inference as it is parsed.
llvm::Expected<std::unique_ptr<Module>>
parseModule(llvm::StringRef Text, llvm::StringRef FileName,
            unsigned FirstLine = 1);

/// Parses a module whose `resource<T>"NAME"` tensors are Blobs[NAME]: the
/// raw little-endian bytes of a tensor of static type T (AOT artifacts hold
/// their weights so, not in a weights file). Copies the bytes exactly.
llvm::Expected<std::unique_ptr<Module>>
parseModuleWithBlobs(llvm::StringRef Text, llvm::StringRef FileName,
                     const llvm::StringMap<llvm::StringRef> &Blobs);

/// Parses one attribute value (`[1, 2]`, `0.5`, `"reflect"`, `f32`,
/// `dense<f32[2]>[1.0, 2.0]`) and coerces it to Kind (ints to floats, an
/// empty list to any list kind).
llvm::Expected<Attribute> parseAttributeText(llvm::StringRef Text,
                                             AttrKind Kind);

/// Parses a tensor type such as `f32[N,3]`.
llvm::Expected<TensorType> parseTensorType(llvm::StringRef Text);

} // namespace dlc

#endif
