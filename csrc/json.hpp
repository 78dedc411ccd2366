// A small strict JSON reader (RFC 8259) for the safetensors header and the pysr metadata.
//
// Numbers keep whether they were written as integers (no '.', no exponent), as Python's json does,
// because the format distinguishes int from float (shapes, offsets, attributes). Integers that do not
// fit int64 are kept as doubles with is_int = true and big = true so that checks can refuse them; a number (integer
// or not) beyond double range is an error.
// Objects keep their key order (the reader reports the first problem in file order); a repeated key is
// an error (Python would keep the last one; refusing is stricter and never hides data).
// Depth is capped at 256 so hostile input cannot exhaust the stack, and a document holds at most 2^20 values so
// that it cannot take gigabytes (real headers hold a few thousand). NaN / Infinity are not accepted. A \u escape
// of a lone surrogate reads as U+FFFD, so every string is valid UTF-8.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace pysr {

struct Json {
    enum class Type { Null, Bool, Number, String, Array, Object };
    Type type = Type::Null;
    bool boolean = false;
    double number = 0.0;
    int64_t integer = 0;   // valid when is_int && !big
    bool is_int = false;
    bool big = false;      // integer literal outside int64
    std::string string;
    std::vector<Json> array;
    std::vector<std::pair<std::string, Json>> object;

    bool is_null() const { return type == Type::Null; }
    bool is_bool() const { return type == Type::Bool; }
    bool is_number() const { return type == Type::Number; }
    bool is_integer() const { return type == Type::Number && is_int && !big; }
    bool is_string() const { return type == Type::String; }
    bool is_array() const { return type == Type::Array; }
    bool is_object() const { return type == Type::Object; }
    const Json *find(const std::string &key) const;  // nullptr when absent (objects only)
    std::string dump() const;                          // compact JSON text, for messages
};

// Parses all of `text` (surrounding whitespace allowed). Returns false and fills `error` (with the byte
// offset) when the text is not one JSON value.
bool parse_json(const char *text, size_t size, Json &out, std::string &error);

// True when [p, p+n) is well-formed UTF-8 (no overlong forms, no surrogates, <= U+10FFFF).
bool valid_utf8(const char *p, size_t n);

}  // namespace pysr
