/* SPDX-License-Identifier: MIT */
/* A small, bounded printf-style formatter (see scfree.h for what it knows). */
#include "scfree/scfree.h"

struct out {
    char *buf;
    size_t size;
    size_t len;
};

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len++] = c;
}

static void put_num(struct out *o, uint64_t v, unsigned base, bool upper,
                    bool neg, unsigned width, char pad)
{
    char tmp[24];
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    unsigned n = 0;
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v && n < sizeof(tmp));
    unsigned total = n + (neg ? 1u : 0u);
    if (neg && pad == '0')
        put(o, '-');
    for (; total < width; total++)
        put(o, pad);
    if (neg && pad != '0')
        put(o, '-');
    while (n)
        put(o, tmp[--n]);
}

size_t sc_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = { buf, size, 0 };
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            put(&o, *p);
            continue;
        }
        p++;
        char pad = ' ';
        unsigned width = 0;
        int lng = 0;
        if (*p == '0') {
            pad = '0';
            p++;
        }
        while (*p >= '0' && *p <= '9' && width < 64)
            width = width * 10 + (unsigned)(*p++ - '0');
        /* Precision: only for %s (at most that many characters). */
        size_t prec = (size_t)-1;
        if (*p == '.') {
            p++;
            if (*p == '*') {
                int v = va_arg(ap, int);
                prec = v < 0 ? (size_t)-1 : (size_t)v;
                p++;
            } else {
                prec = 0;
                while (*p >= '0' && *p <= '9' && prec < 4096)
                    prec = prec * 10 + (size_t)(*p++ - '0');
            }
        }
        while (*p == 'l' || *p == 'z') {
            lng = *p == 'z' ? 2 : lng + 1;
            p++;
        }
        switch (*p) {
        case 'd':
        case 'i': {
            int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
            uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            put_num(&o, m, 10, false, v < 0, width, pad);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
            put_num(&o, v, *p == 'u' ? 10 : 16, *p == 'X', false, width, pad);
            break;
        }
        case 'p':
            put(&o, '0');
            put(&o, 'x');
            put_num(&o, (uint64_t)(uintptr_t)va_arg(ap, void *), 16, false,
                    false, width, pad);
            break;
        case 'c':
            put(&o, (char)va_arg(ap, int));
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            size_t n = sc_strnlen(s, prec < 4096 ? prec : 4096);
            for (size_t k = n; k < width; k++)
                put(&o, ' ');
            for (size_t k = 0; k < n; k++)
                put(&o, s[k]);
            break;
        }
        case '%':
            put(&o, '%');
            break;
        case '\0':
            p--;
            break;
        default:
            put(&o, '%');
            put(&o, *p);
            break;
        }
    }
    if (size)
        buf[o.len] = '\0';
    return o.len;
}

size_t sc_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = sc_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

void sc_appendf(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    if (*len >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    *len += sc_vsnprintf(buf + *len, size - *len, fmt, ap);
    va_end(ap);
}
