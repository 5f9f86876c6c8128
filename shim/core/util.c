#include "util.h"

void shim_zero(void *p, size_t n)
{
    volatile uint8_t *b = p;
    while (n--)
        *b++ = 0;
}

void shim_copy(void *dst, const void *src, size_t n)
{
    volatile uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--)
        *d++ = *s++;
}

size_t shim_strlen(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

static void put(char *buf, size_t size, size_t *len, char c)
{
    if (*len + 1 < size)
        buf[(*len)++] = c;
}

size_t shim_vfmt(char *buf, size_t size, const char *fmt, va_list ap)
{
    size_t len = 0;
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            put(buf, size, &len, *p);
            continue;
        }
        p++;
        int l = 0;
        while (*p == 'l') {
            l = 1;
            p++;
        }
        if (*p == 's') {
            const char *s = va_arg(ap, const char *);
            while (s && *s)
                put(buf, size, &len, *s++);
        } else if (*p == 'u' || *p == 'x') {
            uint64_t v = l ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
            unsigned base = *p == 'u' ? 10 : 16;
            char tmp[24];
            int n = 0;
            if (base == 16) {
                put(buf, size, &len, '0');
                put(buf, size, &len, 'x');
            }
            do {
                tmp[n++] = "0123456789abcdef"[v % base];
                v /= base;
            } while (v);
            while (n)
                put(buf, size, &len, tmp[--n]);
        } else if (*p == '%') {
            put(buf, size, &len, '%');
        } else if (!*p) {
            break;
        }
    }
    if (size)
        buf[len] = 0;
    return len;
}

size_t shim_fmt(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = shim_vfmt(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
