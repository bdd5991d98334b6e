// See json.h. A recursive-descent parser over a string_view; recursion is bounded by
// ParseOptions::maxDepth.
#include "core/json.h"

#include <charconv>
#include <cstdio>
#include <limits>
#include <set>

namespace nq::json {

ParseError::ParseError(const std::string& what, size_t offset)
    : nq::Error("JSON_INVALID", what + " at byte " + std::to_string(offset)),
      reason_(what),
      offset_(offset) {}

// ---- Value ----------------------------------------------------------------------------------

Value Value::makeBool(bool b) {
  Value v;
  v.type_ = Type::Bool;
  v.bool_ = b;
  return v;
}

Value Value::makeNumber(std::string text, double value) {
  Value v;
  v.type_ = Type::Number;
  v.text_ = std::move(text);
  v.number_ = value;
  return v;
}

Value Value::makeString(std::string s) {
  Value v;
  v.type_ = Type::String;
  v.text_ = std::move(s);
  return v;
}

Value Value::makeArray(std::vector<Value> elements) {
  Value v;
  v.type_ = Type::Array;
  v.elements_ = std::move(elements);
  return v;
}

Value Value::makeObject(std::vector<Member> members) {
  Value v;
  v.type_ = Type::Object;
  v.members_ = std::move(members);
  return v;
}

const char* Value::typeName(Type t) {
  switch (t) {
    case Type::Null: return "null";
    case Type::Bool: return "bool";
    case Type::Number: return "number";
    case Type::String: return "string";
    case Type::Array: return "array";
    case Type::Object: return "object";
  }
  return "?";
}

namespace {
[[noreturn]] void wrongType(const Value& v, const char* wanted) {
  throw TypeError(std::string("expected a JSON ") + wanted + ", got " + v.typeName());
}
}  // namespace

bool Value::isInteger() const noexcept {
  return type_ == Type::Number && text_.find_first_of(".eE") == std::string::npos;
}

bool Value::asBool() const {
  if (type_ != Type::Bool) wrongType(*this, "bool");
  return bool_;
}

double Value::asDouble() const {
  if (type_ != Type::Number) wrongType(*this, "number");
  return number_;
}

uint64_t Value::asUint64() const {
  if (!isInteger()) {
    if (type_ == Type::Number) throw TypeError("expected an integer, got " + text_);
    wrongType(*this, "integer");
  }
  bool negative = text_[0] == '-';
  std::string_view digits(text_);
  if (negative) digits.remove_prefix(1);
  uint64_t out = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
  if (ec == std::errc::result_out_of_range) {
    throw TypeError("integer " + text_ + " does not fit in 64 bits");
  }
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    throw TypeError("malformed integer " + text_);  // unreachable for parsed input
  }
  if (negative && out != 0) throw TypeError("expected a non-negative integer, got " + text_);
  return out;
}

int64_t Value::asInt64() const {
  if (!isInteger()) {
    if (type_ == Type::Number) throw TypeError("expected an integer, got " + text_);
    wrongType(*this, "integer");
  }
  int64_t out = 0;
  auto [end, ec] = std::from_chars(text_.data(), text_.data() + text_.size(), out);
  if (ec == std::errc::result_out_of_range) {
    throw TypeError("integer " + text_ + " does not fit in a signed 64-bit integer");
  }
  if (ec != std::errc() || end != text_.data() + text_.size()) {
    throw TypeError("malformed integer " + text_);
  }
  return out;
}

const std::string& Value::asString() const {
  if (type_ != Type::String) wrongType(*this, "string");
  return text_;
}

const std::string& Value::numberText() const {
  if (type_ != Type::Number) wrongType(*this, "number");
  return text_;
}

const std::vector<Value>& Value::elements() const {
  if (type_ != Type::Array) wrongType(*this, "array");
  return elements_;
}

const std::vector<Value::Member>& Value::items() const {
  if (type_ != Type::Object) wrongType(*this, "object");
  return members_;
}

size_t Value::size() const {
  if (type_ == Type::Array) return elements_.size();
  if (type_ == Type::Object) return members_.size();
  wrongType(*this, "array or object");
}

const Value& Value::at(size_t index) const {
  const auto& list = elements();
  if (index >= list.size()) {
    throw TypeError("index " + std::to_string(index) + " out of range for an array of " +
                    std::to_string(list.size()));
  }
  return list[index];
}

const Value* Value::get(std::string_view key) const {
  if (type_ != Type::Object) return nullptr;
  for (const auto& member : members_) {
    if (member.first == key) return &member.second;
  }
  return nullptr;
}

// ---- Parser ---------------------------------------------------------------------------------

namespace {

class Parser {
 public:
  Parser(std::string_view text, const ParseOptions& options) : s_(text), options_(options) {}

  Value document() {
    skipSpace();
    Value v = value(0);
    skipSpace();
    if (pos_ != s_.size()) fail("unexpected " + describe(pos_) + " after the JSON value");
    return v;
  }

 private:
  std::string_view s_;
  const ParseOptions& options_;
  size_t pos_ = 0;

  [[noreturn]] void fail(const std::string& what) const { throw ParseError(what, pos_); }
  [[noreturn]] void failAt(const std::string& what, size_t at) const { throw ParseError(what, at); }

  std::string describe(size_t at) const {
    if (at >= s_.size()) return "end of input";
    unsigned char c = static_cast<unsigned char>(s_[at]);
    char buf[32];
    if (c >= 0x20 && c < 0x7f) {
      std::snprintf(buf, sizeof buf, "character '%c'", c);
    } else {
      std::snprintf(buf, sizeof buf, "byte 0x%02X", c);
    }
    return buf;
  }

  std::string hexByte(size_t at) const {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02X", static_cast<unsigned char>(s_[at]));
    return buf;
  }

  void skipSpace() {
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      ++pos_;
    }
  }

  bool consumeLiteral(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Value value(size_t depth) {
    if (pos_ >= s_.size()) fail("expected a JSON value but found end of input");
    char c = s_[pos_];
    switch (c) {
      case '{': return object(depth + 1);
      case '[': return array(depth + 1);
      case '"': return Value::makeString(string());
      case 't':
        if (consumeLiteral("true")) return Value::makeBool(true);
        break;
      case 'f':
        if (consumeLiteral("false")) return Value::makeBool(false);
        break;
      case 'n':
        if (consumeLiteral("null")) return Value();
        break;
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return number();
    }
    fail("expected a JSON value but found " + describe(pos_));
  }

  void enter(size_t depth) {
    if (depth > options_.maxDepth) {
      fail("nesting deeper than " + std::to_string(options_.maxDepth) + " levels");
    }
  }

  Value object(size_t depth) {
    enter(depth);
    ++pos_;  // '{'
    std::vector<Value::Member> members;
    std::set<std::string> keys;
    skipSpace();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      return Value::makeObject(std::move(members));
    }
    while (true) {
      skipSpace();
      if (pos_ >= s_.size() || s_[pos_] != '"') {
        fail("expected a string key in object but found " + describe(pos_));
      }
      size_t keyAt = pos_;
      std::string key = string();
      if (!options_.allowDuplicateKeys && !keys.insert(key).second) {
        failAt("duplicate key " + quote(key) + " in object", keyAt);
      }
      skipSpace();
      if (pos_ >= s_.size() || s_[pos_] != ':') {
        fail("expected ':' after object key but found " + describe(pos_));
      }
      ++pos_;
      skipSpace();
      Value v = value(depth);
      members.emplace_back(std::move(key), std::move(v));
      skipSpace();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        return Value::makeObject(std::move(members));
      }
      fail("expected ',' or '}' in object but found " + describe(pos_));
    }
  }

  Value array(size_t depth) {
    enter(depth);
    ++pos_;  // '['
    std::vector<Value> elements;
    skipSpace();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      return Value::makeArray(std::move(elements));
    }
    while (true) {
      skipSpace();
      elements.push_back(value(depth));
      skipSpace();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == ']') {
        ++pos_;
        return Value::makeArray(std::move(elements));
      }
      fail("expected ',' or ']' in array but found " + describe(pos_));
    }
  }

  bool digitAt(size_t at) const { return at < s_.size() && s_[at] >= '0' && s_[at] <= '9'; }

  Value number() {
    size_t start = pos_;
    if (s_[pos_] == '-') ++pos_;
    if (!digitAt(pos_)) fail("expected a digit in number but found " + describe(pos_));
    if (s_[pos_] == '0') {
      ++pos_;
      if (digitAt(pos_)) fail("leading zeros are not allowed in numbers");
    } else {
      while (digitAt(pos_)) ++pos_;
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (!digitAt(pos_)) fail("expected a digit after '.' but found " + describe(pos_));
      while (digitAt(pos_)) ++pos_;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!digitAt(pos_)) fail("expected a digit in exponent but found " + describe(pos_));
      while (digitAt(pos_)) ++pos_;
    }
    std::string text(s_.substr(start, pos_ - start));
    double d = 0.0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    if (ec == std::errc::result_out_of_range) {
      // Keep the text (integers beyond 2^64 stay inspectable); the double saturates.
      size_t e = text.find_first_of("eE");
      bool underflow = e != std::string::npos && text[e + 1] == '-';
      double magnitude = underflow ? 0.0 : std::numeric_limits<double>::infinity();
      d = text[0] == '-' ? -magnitude : magnitude;
    } else if (ec != std::errc() || end != text.data() + text.size()) {
      failAt("malformed number", start);
    }
    return Value::makeNumber(std::move(text), d);
  }

  unsigned hex4() {
    if (pos_ + 4 > s_.size()) fail("incomplete \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_];
      unsigned digit;
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        digit = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        digit = c - 'A' + 10;
      } else {
        fail("expected a hex digit in \\u escape but found " + describe(pos_));
      }
      v = v * 16 + digit;
      ++pos_;
    }
    return v;
  }

  static void appendUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // One escape after the backslash; pos_ is at the character after '\'.
  void escape(std::string& out) {
    size_t at = pos_ - 1;
    if (pos_ >= s_.size()) fail("unterminated escape in string");
    char c = s_[pos_++];
    switch (c) {
      case '"': out += '"'; return;
      case '\\': out += '\\'; return;
      case '/': out += '/'; return;
      case 'b': out += '\b'; return;
      case 'f': out += '\f'; return;
      case 'n': out += '\n'; return;
      case 'r': out += '\r'; return;
      case 't': out += '\t'; return;
      case 'u': break;
      default: failAt("invalid escape \\" + std::string(1, c) + " in string", at);
    }
    uint32_t cp = hex4();
    if (cp >= 0xDC00 && cp <= 0xDFFF) failAt("unpaired low surrogate in \\u escape", at);
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (s_.substr(pos_, 2) != "\\u") failAt("high surrogate not followed by a low surrogate", at);
      pos_ += 2;
      uint32_t low = hex4();
      if (low < 0xDC00 || low > 0xDFFF) failAt("high surrogate not followed by a low surrogate", at);
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    appendUtf8(out, cp);
  }

  // Validates one multi-byte UTF-8 sequence starting at pos_ (lead byte >= 0x80) and copies it.
  void utf8Sequence(std::string& out) {
    size_t at = pos_;
    auto byte = [&](size_t i) { return static_cast<unsigned char>(s_[i]); };
    unsigned char lead = byte(at);
    size_t length;
    uint32_t cp;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
      cp = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      cp = lead & 0x0F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      cp = lead & 0x07;
    } else {
      failAt("invalid UTF-8 lead byte " + hexByte(at) + " in string", at);
    }
    if (at + length > s_.size()) failAt("truncated UTF-8 sequence in string", at);
    for (size_t i = 1; i < length; ++i) {
      unsigned char b = byte(at + i);
      if ((b & 0xC0) != 0x80) failAt("invalid UTF-8 continuation byte in string", at + i);
      cp = (cp << 6) | (b & 0x3F);
    }
    bool overlong = (length == 3 && cp < 0x800) || (length == 4 && cp < 0x10000);
    if (overlong) failAt("overlong UTF-8 sequence in string", at);
    if (cp >= 0xD800 && cp <= 0xDFFF) failAt("UTF-8 encoded surrogate in string", at);
    if (cp > 0x10FFFF) failAt("UTF-8 code point beyond U+10FFFF in string", at);
    out.append(s_.substr(at, length));
    pos_ = at + length;
  }

  std::string string() {
    size_t start = pos_;
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) failAt("unterminated string", start);
      unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c == '\\') {
        ++pos_;
        escape(out);
      } else if (c < 0x20) {
        fail("unescaped control character " + hexByte(pos_) + " in string");
      } else if (c < 0x80) {
        out += static_cast<char>(c);
        ++pos_;
      } else {
        utf8Sequence(out);
      }
    }
  }
};

}  // namespace

Value parse(std::string_view text, const ParseOptions& options) {
  return Parser(text, options).document();
}

std::string quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace nq::json
