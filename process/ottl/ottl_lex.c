/* OTTL lexer: the whole source becomes a token array up front, so the parser can look
 * ahead freely (an identifier followed by '(' is a call, otherwise a path or enum). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ottl_int.h"
#include "kt_codec.h"

int ottl_syntax_error(struct kt_err *err, const char *src, size_t pos, const char *fmt, ...)
{
    char what[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return kt_err_set(err, KT_EINVAL, "column %zu: %s in '%s'", pos + 1, what, src);
}

static const char *tok_text(enum ottl_tok k)
{
    switch (k) {
    case OTTL_T_EOF: return "end of input";
    case OTTL_T_IDENT: return "identifier";
    case OTTL_T_STRING: return "string";
    case OTTL_T_INT:
    case OTTL_T_FLOAT: return "number";
    case OTTL_T_LPAREN: return "'('";
    case OTTL_T_RPAREN: return "')'";
    case OTTL_T_LBRACK: return "'['";
    case OTTL_T_RBRACK: return "']'";
    case OTTL_T_COMMA: return "','";
    case OTTL_T_DOT: return "'.'";
    case OTTL_T_EQ: return "'=='";
    case OTTL_T_NE: return "'!='";
    case OTTL_T_LT: return "'<'";
    case OTTL_T_LE: return "'<='";
    case OTTL_T_GT: return "'>'";
    case OTTL_T_GE: return "'>='";
    case OTTL_T_ASSIGN: return "'='";
    case OTTL_T_MINUS: return "'-'";
    case OTTL_T_PLUS: return "'+'";
    case OTTL_T_STAR: return "'*'";
    case OTTL_T_SLASH: return "'/'";
    case OTTL_T_LBRACE: return "'{'";
    case OTTL_T_RBRACE: return "'}'";
    case OTTL_T_COLON: return "':'";
    }
    return "token";
}

void ottl_tok_describe(const struct ottl_token *t, char *buf, size_t size)
{
    switch (t->kind) {
    case OTTL_T_IDENT:
        snprintf(buf, size, "identifier '%.*s'", (int)(t->n > 64 ? 64 : t->n), t->s);
        break;
    case OTTL_T_STRING:
        snprintf(buf, size, "string \"%.*s%s\"", (int)(t->n > 40 ? 40 : t->n), t->s,
                 t->n > 40 ? "..." : "");
        break;
    case OTTL_T_INT:
    case OTTL_T_FLOAT:
        snprintf(buf, size, "number %.*s", (int)(t->n > 40 ? 40 : t->n), t->s);
        break;
    default: snprintf(buf, size, "%s", tok_text(t->kind)); break;
    }
}

/* Decodes a double-quoted string at src[*pos] (the opening quote) with Go's escapes, as the
 * Collector's OTTL unquotes them. A regex backslash must be doubled ("\\d"). */
static int lex_string(const char *src, size_t *pos, struct kt_arena *a, struct ottl_token *t,
                      struct kt_err *err)
{
    size_t start = *pos, i = start + 1;
    size_t len = strlen(src);
    /* Decoded text is never longer than the source. */
    char *o = kt_arena_alloc(a, len - start + 1);
    if (o == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    size_t n = 0;
    for (;;) {
        char c = src[i];
        if (c == '\0')
            return ottl_syntax_error(err, src, start, "unterminated string");
        if (c == '"') {
            i++;
            break;
        }
        if (c != '\\') {
            o[n++] = c;
            i++;
            continue;
        }
        char e = src[i + 1];
        size_t esc = i;
        i += 2;
        switch (e) {
        case '"': o[n++] = '"'; break;
        case '\\': o[n++] = '\\'; break;
        case '\'': o[n++] = '\''; break;
        case 'n': o[n++] = '\n'; break;
        case 't': o[n++] = '\t'; break;
        case 'r': o[n++] = '\r'; break;
        case 'a': o[n++] = '\a'; break;
        case 'b': o[n++] = '\b'; break;
        case 'f': o[n++] = '\f'; break;
        case 'v': o[n++] = '\v'; break;
        case 'x':
        case 'u':
        case 'U': {
            int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            unsigned long cp = 0;
            for (int k = 0; k < digits; k++) {
                int h = kt_hex_digit(src[i]);
                if (h < 0)
                    return ottl_syntax_error(err, src, esc, "\\%c needs %d hex digits", e, digits);
                cp = cp * 16 + (unsigned long)h;
                i++;
            }
            if (e == 'x') {
                o[n++] = (char)cp;
            } else {
                if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                    return ottl_syntax_error(err, src, esc, "invalid code point in \\%c", e);
                n += kt_utf8_put((uint8_t *)o + n, (uint32_t)cp);
            }
            break;
        }
        case '\0': return ottl_syntax_error(err, src, start, "unterminated string");
        default:
            return ottl_syntax_error(err, src, esc,
                                     "unknown escape '\\%c' in string (a regex backslash is "
                                     "written \\\\)",
                                     e);
        }
    }
    o[n] = '\0';
    t->kind = OTTL_T_STRING;
    t->s = o;
    t->n = n;
    *pos = i;
    return 0;
}

static int lex_number(const char *src, size_t *pos, struct ottl_token *t, struct kt_err *err)
{
    size_t i = *pos;
    bool is_float = false;
    while (src[i] >= '0' && src[i] <= '9')
        i++;
    if (src[i] == '.' && src[i + 1] >= '0' && src[i + 1] <= '9') {
        is_float = true;
        i++;
        while (src[i] >= '0' && src[i] <= '9')
            i++;
    }
    if (src[i] == 'e' || src[i] == 'E') {
        size_t j = i + 1;
        if (src[j] == '+' || src[j] == '-')
            j++;
        if (src[j] >= '0' && src[j] <= '9') {
            is_float = true;
            i = j;
            while (src[i] >= '0' && src[i] <= '9')
                i++;
        }
    }
    char buf[128];
    size_t len = i - *pos;
    if (len >= sizeof(buf))
        return ottl_syntax_error(err, src, *pos, "number too long");
    memcpy(buf, src + *pos, len);
    buf[len] = '\0';
    errno = 0;
    if (is_float) {
        t->kind = OTTL_T_FLOAT;
        t->d = strtod(buf, NULL);
        if (errno == ERANGE && isinf(t->d))
            return ottl_syntax_error(err, src, *pos, "number %s out of range", buf);
    } else {
        t->kind = OTTL_T_INT;
        long long v = strtoll(buf, NULL, 10);
        if (errno == ERANGE)
            return ottl_syntax_error(err, src, *pos, "integer %s out of range", buf);
        t->i = v;
    }
    *pos = i;
    return 0;
}

static bool ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool ident_char(char c)
{
    return ident_start(c) || (c >= '0' && c <= '9');
}

int ottl_lex(const char *src, struct kt_arena *a, struct ottl_token **toks, size_t *n,
             struct kt_err *err)
{
    size_t len = strlen(src);
    /* Every token but EOF takes at least one byte. */
    struct ottl_token *v = kt_arena_alloc(a, (len + 1) * sizeof(*v));
    if (v == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    size_t k = 0, i = 0;
    for (;;) {
        while (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r')
            i++;
        struct ottl_token *t = &v[k];
        memset(t, 0, sizeof(*t));
        t->pos = i;
        char c = src[i];
        if (c == '\0') {
            t->kind = OTTL_T_EOF;
            k++;
            break;
        }
        int rc = 0;
        if (ident_start(c)) {
            size_t j = i;
            while (ident_char(src[j]))
                j++;
            t->kind = OTTL_T_IDENT;
            t->s = src + i;
            t->n = j - i;
            i = j;
        } else if (c >= '0' && c <= '9') {
            rc = lex_number(src, &i, t, err);
        } else if (c == '"') {
            rc = lex_string(src, &i, a, t, err);
        } else {
            char d = src[i + 1];
            i++;
            switch (c) {
            case '(': t->kind = OTTL_T_LPAREN; break;
            case ')': t->kind = OTTL_T_RPAREN; break;
            case '[': t->kind = OTTL_T_LBRACK; break;
            case ']': t->kind = OTTL_T_RBRACK; break;
            case ',': t->kind = OTTL_T_COMMA; break;
            case '.': t->kind = OTTL_T_DOT; break;
            case '-': t->kind = OTTL_T_MINUS; break;
            case '+': t->kind = OTTL_T_PLUS; break;
            case '*': t->kind = OTTL_T_STAR; break;
            case '/': t->kind = OTTL_T_SLASH; break;
            case '{': t->kind = OTTL_T_LBRACE; break;
            case '}': t->kind = OTTL_T_RBRACE; break;
            case ':': t->kind = OTTL_T_COLON; break;
            case '=':
                t->kind = d == '=' ? OTTL_T_EQ : OTTL_T_ASSIGN;
                i += d == '=';
                break;
            case '!':
                if (d != '=')
                    return ottl_syntax_error(err, src, i - 1,
                                             "unexpected '!' (negation is written 'not')");
                t->kind = OTTL_T_NE;
                i++;
                break;
            case '<':
                t->kind = d == '=' ? OTTL_T_LE : OTTL_T_LT;
                i += d == '=';
                break;
            case '>':
                t->kind = d == '=' ? OTTL_T_GE : OTTL_T_GT;
                i += d == '=';
                break;
            default:
                if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
                    return ottl_syntax_error(err, src, i - 1, "unexpected character '%c'", c);
                return ottl_syntax_error(err, src, i - 1, "unexpected byte 0x%02x",
                                         (unsigned char)c);
            }
        }
        if (rc != 0)
            return rc;
        t->len = i - t->pos;
        if (t->kind == OTTL_T_INT || t->kind == OTTL_T_FLOAT) {
            t->s = src + t->pos;
            t->n = t->len;
        }
        k++;
    }
    *toks = v;
    *n = k;
    return 0;
}
