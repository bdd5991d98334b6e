// A small strict JSON (RFC 8259) parser and a string quoter, for the few JSON documents the
// engine reads itself: safetensors headers, index files, quantization state.
// Not here: a general-purpose JSON library (no serializer beyond quote(), no mutation API).
//
// Choices that matter to callers:
//   - Objects keep their members in document order, duplicates included; get() returns the
//     first. parse() rejects duplicate keys unless ParseOptions::allowDuplicateKeys is set,
//     in which case the caller can inspect items() and report duplicates in its own words.
//   - Numbers keep their source text next to the double, so integers stay exact up to uint64
//     (asUint64 / asInt64 read the text, never the double).
//   - Strings are validated as UTF-8; \uXXXX escapes (surrogate pairs included) become UTF-8.
//   - Every error names the byte offset into the input.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/errors.h"

namespace nq::json {

// Thrown by parse(): code "JSON_INVALID", message "<what> at byte <offset>".
class ParseError : public nq::Error {
 public:
  ParseError(const std::string& what, size_t offset);
  size_t offset() const noexcept { return offset_; }
  const std::string& reason() const noexcept { return reason_; }  // message without offset

 private:
  std::string reason_;
  size_t offset_;
};

// Thrown by the as*() accessors when a value has another type or range: code "JSON_TYPE".
class TypeError : public nq::Error {
 public:
  explicit TypeError(const std::string& message) : nq::Error("JSON_TYPE", message) {}
};

class Value {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };
  using Member = std::pair<std::string, Value>;

  Value() = default;  // null
  static Value makeBool(bool b);
  static Value makeNumber(std::string text, double value);
  static Value makeString(std::string s);
  static Value makeArray(std::vector<Value> elements);
  static Value makeObject(std::vector<Member> members);

  Type type() const noexcept { return type_; }
  bool isNull() const noexcept { return type_ == Type::Null; }
  bool isBool() const noexcept { return type_ == Type::Bool; }
  bool isNumber() const noexcept { return type_ == Type::Number; }
  bool isString() const noexcept { return type_ == Type::String; }
  bool isArray() const noexcept { return type_ == Type::Array; }
  bool isObject() const noexcept { return type_ == Type::Object; }
  // A number written without fraction or exponent ("12", "-3"; not "12.0" or "1e3").
  bool isInteger() const noexcept;

  bool asBool() const;
  double asDouble() const;
  // Exact integer reads of the source text; throw TypeError on a non-integer, a negative value
  // (asUint64) or one out of range.
  uint64_t asUint64() const;
  int64_t asInt64() const;
  const std::string& asString() const;
  const std::string& numberText() const;  // the number as written

  const std::vector<Value>& elements() const;  // array elements; throws if not an array
  const std::vector<Member>& items() const;    // object members in order; throws if not an object
  size_t size() const;                         // elements or members; throws otherwise
  const Value& at(size_t index) const;         // array element; throws if out of range
  const Value* get(std::string_view key) const;  // first member named key, nullptr if none

  static const char* typeName(Type t);  // "null", "bool", "number", ...
  const char* typeName() const { return typeName(type_); }

 private:
  Type type_ = Type::Null;
  bool bool_ = false;
  double number_ = 0.0;
  std::string text_;  // string contents, or the number's source text
  std::vector<Value> elements_;
  std::vector<Member> members_;
};

struct ParseOptions {
  bool allowDuplicateKeys = false;
  size_t maxDepth = 256;  // nesting limit; deep input must not exhaust the stack
};

Value parse(std::string_view text, const ParseOptions& options = {});

// `s` as a JSON string literal with quotes; escapes ", \ and control characters. `s` is
// expected to be UTF-8 and is copied byte for byte otherwise.
std::string quote(std::string_view s);

}  // namespace nq::json
