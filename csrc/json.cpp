// Strict recursive-descent JSON reader; see json.hpp for the conventions.
#include "json.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace pysr {

namespace {

constexpr int kMaxDepth = 256;
constexpr size_t kMaxValues = size_t(1) << 20;  // a value takes ~100 bytes here: 16 MiB of "0," would take 1 GiB

struct Parser {
    const char *p, *begin, *end;
    std::string error;
    size_t values = 0;

    bool fail(const char *what) {
        if (error.empty()) error = std::string(what) + " at byte " + std::to_string(p - begin);
        return false;
    }
    void ws() {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
    }
    bool literal(const char *word) {
        for (const char *w = word; *w; ++w, ++p)
            if (p >= end || *p != *w) return fail("invalid literal");
        return true;
    }
    static void put_utf8(std::string &s, uint32_t c) {
        if (c < 0x80) {
            s += char(c);
        } else if (c < 0x800) {
            s += char(0xC0 | (c >> 6));
            s += char(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            // NOTE: a lone surrogate (\ud800, which Python's json keeps) is no UTF-8 character: it becomes U+FFFD, so
            // that every name and message taken from a file stays valid UTF-8 for the hosts that decode them.
            if (c >= 0xD800 && c < 0xE000) c = 0xFFFD;
            s += char(0xE0 | (c >> 12));
            s += char(0x80 | ((c >> 6) & 0x3F));
            s += char(0x80 | (c & 0x3F));
        } else {
            s += char(0xF0 | (c >> 18));
            s += char(0x80 | ((c >> 12) & 0x3F));
            s += char(0x80 | ((c >> 6) & 0x3F));
            s += char(0x80 | (c & 0x3F));
        }
    }
    bool hex4(uint32_t &v) {
        v = 0;
        for (int i = 0; i < 4; ++i, ++p) {
            if (p >= end) return fail("truncated \\u escape");
            char c = *p;
            v <<= 4;
            if (c >= '0' && c <= '9') v |= uint32_t(c - '0');
            else if (c >= 'a' && c <= 'f') v |= uint32_t(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') v |= uint32_t(c - 'A' + 10);
            else return fail("bad \\u escape");
        }
        return true;
    }
    bool string(std::string &s) {
        ++p;  // opening quote
        while (true) {
            if (p >= end) return fail("unterminated string");
            unsigned char c = static_cast<unsigned char>(*p);
            if (c == '"') { ++p; return true; }
            if (c < 0x20) return fail("control character in string");
            if (c != '\\') { s += char(c); ++p; continue; }
            ++p;
            if (p >= end) return fail("unterminated escape");
            char e = *p++;
            switch (e) {
                case '"': s += '"'; break;
                case '\\': s += '\\'; break;
                case '/': s += '/'; break;
                case 'b': s += '\b'; break;
                case 'f': s += '\f'; break;
                case 'n': s += '\n'; break;
                case 'r': s += '\r'; break;
                case 't': s += '\t'; break;
                case 'u': {
                    uint32_t v;
                    if (!hex4(v)) return false;
                    if (v >= 0xD800 && v < 0xDC00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                        const char *save = p;
                        p += 2;
                        uint32_t lo;
                        if (!hex4(lo)) return false;
                        if (lo >= 0xDC00 && lo < 0xE000) v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
                        else p = save;
                    }
                    put_utf8(s, v);
                    break;
                }
                default: --p; return fail("invalid escape");
            }
        }
    }
    bool number(Json &out) {
        const char *start = p;
        bool is_int = true;
        if (p < end && *p == '-') ++p;
        if (p >= end) return fail("truncated number");
        if (*p == '0') {
            ++p;
        } else if (*p >= '1' && *p <= '9') {
            while (p < end && *p >= '0' && *p <= '9') ++p;
        } else {
            return fail("invalid number");
        }
        if (p < end && *p == '.') {
            is_int = false;
            ++p;
            if (p >= end || !(*p >= '0' && *p <= '9')) return fail("invalid number");
            while (p < end && *p >= '0' && *p <= '9') ++p;
        }
        if (p < end && (*p == 'e' || *p == 'E')) {
            is_int = false;
            ++p;
            if (p < end && (*p == '+' || *p == '-')) ++p;
            if (p >= end || !(*p >= '0' && *p <= '9')) return fail("invalid number");
            while (p < end && *p >= '0' && *p <= '9') ++p;
        }
        std::string text(start, p);
        out.type = Json::Type::Number;
        out.is_int = is_int;
        out.number = std::strtod(text.c_str(), nullptr);
        // An integer literal must fit a double too (pysr/io/model_file.py refuses 1e400 written out in digits alike).
        if (!std::isfinite(out.number)) return fail("number out of float range");
        if (is_int) {
            errno = 0;
            long long v = std::strtoll(text.c_str(), nullptr, 10);
            if (errno == ERANGE) out.big = true;
            else out.integer = v;
        }
        return true;
    }
    bool value(Json &out, int depth) {
        if (depth > kMaxDepth) return fail("nesting deeper than 256");
        if (++values > kMaxValues) return fail("more than 2^20 values");
        ws();
        if (p >= end) return fail("unexpected end of JSON");
        switch (*p) {
            case '{': {
                out.type = Json::Type::Object;
                ++p;
                ws();
                if (p < end && *p == '}') { ++p; return true; }
                std::set<std::string> keys;  // a hostile object has 10^6 keys: no quadratic search
                while (true) {
                    ws();
                    if (p >= end || *p != '"') return fail("expected a string key");
                    std::string key;
                    if (!string(key)) return false;
                    if (!keys.insert(key).second) return fail(("repeated key \"" + key + "\"").c_str());
                    ws();
                    if (p >= end || *p != ':') return fail("expected ':'");
                    ++p;
                    out.object.emplace_back(std::move(key), Json());
                    if (!value(out.object.back().second, depth + 1)) return false;
                    ws();
                    if (p < end && *p == ',') { ++p; continue; }
                    if (p < end && *p == '}') { ++p; return true; }
                    return fail("expected ',' or '}'");
                }
            }
            case '[': {
                out.type = Json::Type::Array;
                ++p;
                ws();
                if (p < end && *p == ']') { ++p; return true; }
                while (true) {
                    out.array.emplace_back();
                    if (!value(out.array.back(), depth + 1)) return false;
                    ws();
                    if (p < end && *p == ',') { ++p; continue; }
                    if (p < end && *p == ']') { ++p; return true; }
                    return fail("expected ',' or ']'");
                }
            }
            case '"': out.type = Json::Type::String; return string(out.string);
            case 't': out.type = Json::Type::Bool; out.boolean = true; return literal("true");
            case 'f': out.type = Json::Type::Bool; out.boolean = false; return literal("false");
            case 'n': out.type = Json::Type::Null; return literal("null");
            default: return number(out);
        }
    }
};

void dump_string(std::string &o, const std::string &s) {
    o += '"';
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') { o += '\\'; o += char(c); }
        else if (c < 0x20) { char b[8]; std::snprintf(b, sizeof b, "\\u%04x", c); o += b; }
        else o += char(c);
    }
    o += '"';
}

void dump_to(std::string &o, const Json &j) {
    switch (j.type) {
        case Json::Type::Null: o += "null"; break;
        case Json::Type::Bool: o += j.boolean ? "true" : "false"; break;
        case Json::Type::Number: {
            if (j.is_int && !j.big) { o += std::to_string(j.integer); break; }
            char b[32];
            std::snprintf(b, sizeof b, "%.17g", j.number);
            o += b;
            break;
        }
        case Json::Type::String: dump_string(o, j.string); break;
        case Json::Type::Array:
            o += '[';
            for (size_t i = 0; i < j.array.size(); ++i) { if (i) o += ", "; dump_to(o, j.array[i]); }
            o += ']';
            break;
        case Json::Type::Object:
            o += '{';
            for (size_t i = 0; i < j.object.size(); ++i) {
                if (i) o += ", ";
                dump_string(o, j.object[i].first);
                o += ": ";
                dump_to(o, j.object[i].second);
            }
            o += '}';
            break;
    }
}

}  // namespace

const Json *Json::find(const std::string &key) const {
    for (auto &kv : object)
        if (kv.first == key) return &kv.second;
    return nullptr;
}

std::string Json::dump() const {
    std::string o;
    dump_to(o, *this);
    if (o.size() > 200) {
        size_t cut = 200;
        while (cut > 0 && (static_cast<unsigned char>(o[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
        o = o.substr(0, cut) + "…";
    }
    return o;
}

bool parse_json(const char *text, size_t size, Json &out, std::string &error) {
    Parser ps{text, text, text + size, {}};
    out = Json();
    if (!ps.value(out, 0)) { error = ps.error; return false; }
    ps.ws();
    if (ps.p != ps.end) { ps.fail("extra data after the JSON value"); error = ps.error; return false; }
    return true;
}

bool valid_utf8(const char *s, size_t n) {
    const unsigned char *p = reinterpret_cast<const unsigned char *>(s), *e = p + n;
    while (p < e) {
        unsigned c = *p;
        if (c < 0x80) { ++p; continue; }
        int len;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; min = 0x10000; }
        else return false;
        if (e - p < len) return false;
        for (int i = 1; i < len; ++i) {
            if ((p[i] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) return false;
        p += len;
    }
    return true;
}

}  // namespace pysr
