// Upper bounds of the bytes rows take in a reply, in protobuf's wire format,
// as api/convert renders them (a datagate.v1.Row holding a Struct of values;
// integers beyond 2^53 as decimal strings, blobs as base64). The gateway
// checks these bounds before a write commits, so that every accepted write
// can be answered and every stored row read back. tests/unit/reply_size_test
// checks them against the real messages.
#ifndef DATAGATE_COMMON_REPLY_SIZE_H_
#define DATAGATE_COMMON_REPLY_SIZE_H_

#include <cstdint>

#include "common/value.h"

namespace datagate {

// A length-delimited field with a body of `body` bytes: tag, length, body.
inline int64_t FieldBytes(int64_t body) { return 1 + 5 + body; }

// The body of the google.protobuf.Value holding `v`.
int64_t ValueReplyBytes(const Value& v);

// The body of the datagate.v1.Row holding `row` (the whole message of a
// GetRow or CreateRow reply).
int64_t RowReplyBytes(const StoredRow& row);

}  // namespace datagate

#endif  // DATAGATE_COMMON_REPLY_SIZE_H_
