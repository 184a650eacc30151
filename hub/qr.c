/* qr.c: the enrolment token as a QR code (qr.h): terminal drawing, and a PNG written without libpng. */
#include "qr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kiroku/buf.h"
#include "kiroku/print.h"

#ifdef KIROKU_HAVE_QRENCODE
#include <qrencode.h>

#define QUIET 4 /* modules of white around the code */
#define SCALE 8 /* PNG pixels per module */

bool hub_qr_available(void)
{
	return true;
}

static QRcode *encode(const char *text, struct kr_error *err)
{
	QRcode *qr = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);
	if (!qr)
		kr_fail(err, KR_ERR_INVALID, "the token does not fit in a QR code");
	return qr;
}

/* Whether the module at (x, y) of the code with its quiet zone is dark. */
static bool dark(const QRcode *qr, int x, int y)
{
	x -= QUIET;
	y -= QUIET;
	if (x < 0 || y < 0 || x >= qr->width || y >= qr->width)
		return false;
	return qr->data[y * qr->width + x] & 1;
}

kr_status hub_qr_print(const char *text, FILE *out, struct kr_error *err)
{
	QRcode *qr = encode(text, err);
	int size;

	if (!qr)
		return KR_ERR_INVALID;
	size = qr->width + 2 * QUIET;
	for (int y = 0; y < size; y += 2) {
		fputs("\033[30;47m", out);
		for (int x = 0; x < size; x++) {
			bool top = dark(qr, x, y), bottom = y + 1 < size && dark(qr, x, y + 1);
			fputs(top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ", out);
		}
		fputs("\033[0m\n", out);
	}
	QRcode_free(qr);
	return KR_OK;
}

static uint32_t crc32(const uint8_t *p, size_t n, uint32_t crc)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static kr_status chunk(struct kr_buf *b, const char type[4], const uint8_t *data, size_t n)
{
	uint8_t head[8], tail[4];
	uint32_t crc;
	kr_status s;

	be32(head, (uint32_t)n);
	memcpy(head + 4, type, 4);
	crc = crc32(head + 4, 4, 0);
	crc = crc32(data, n, crc);
	be32(tail, crc);
	s = kr_buf_append(b, head, 8);
	if (!s && n)
		s = kr_buf_append(b, data, n);
	if (!s)
		s = kr_buf_append(b, tail, 4);
	return s;
}

kr_status hub_qr_png(const char *text, const char *path, struct kr_error *err)
{
	static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	QRcode *qr = encode(text, err);
	struct kr_buf png, raw, z;
	uint8_t ihdr[13], adler[4];
	uint32_t a = 1, b2 = 0;
	size_t side, row;
	kr_status s = KR_OK;

	if (!qr)
		return KR_ERR_INVALID;
	side = (size_t)(qr->width + 2 * QUIET) * SCALE;
	row = side + 1; /* filter byte + one grey byte a pixel */
	kr_buf_init(&png, 0);
	kr_buf_init(&raw, 0);
	kr_buf_init(&z, 0);
	for (size_t y = 0; y < side && !s; y++) {
		s = kr_buf_append(&raw, "", 1); /* filter: none */
		for (size_t x = 0; x < side && !s; x++) {
			uint8_t v = dark(qr, (int)(x / SCALE), (int)(y / SCALE)) ? 0 : 255;
			s = kr_buf_append(&raw, &v, 1);
		}
	}
	(void)row;
	/* zlib stream of stored (uncompressed) deflate blocks: no compression library needed. */
	if (!s)
		s = kr_buf_append(&z, "\x78\x01", 2);
	for (size_t off = 0; off < raw.len && !s; off += 65535) {
		size_t n = raw.len - off > 65535 ? 65535 : raw.len - off;
		uint8_t h[5] = {off + n == raw.len ? 1 : 0, (uint8_t)n, (uint8_t)(n >> 8), (uint8_t)~n,
		                (uint8_t)(~n >> 8)};
		s = kr_buf_append(&z, h, 5);
		if (!s)
			s = kr_buf_append(&z, raw.data + off, n);
	}
	for (size_t i = 0; i < raw.len; i++) {
		a = (a + raw.data[i]) % 65521;
		b2 = (b2 + a) % 65521;
	}
	be32(adler, (b2 << 16) | a);
	if (!s)
		s = kr_buf_append(&z, adler, 4);
	be32(ihdr, (uint32_t)side);
	be32(ihdr + 4, (uint32_t)side);
	ihdr[8] = 8;  /* bit depth */
	ihdr[9] = 0;  /* greyscale */
	ihdr[10] = 0; /* deflate */
	ihdr[11] = 0; /* adaptive filtering */
	ihdr[12] = 0; /* no interlace */
	if (!s)
		s = kr_buf_append(&png, sig, sizeof sig);
	if (!s)
		s = chunk(&png, "IHDR", ihdr, sizeof ihdr);
	if (!s)
		s = chunk(&png, "IDAT", z.data, z.len);
	if (!s)
		s = chunk(&png, "IEND", NULL, 0);
	QRcode_free(qr);
	if (s)
		kr_fail(err, s, "out of memory drawing the QR code");
	else
		s = kr_file_write(path, png.data, png.len, err);
	kr_buf_release(&png);
	kr_buf_release(&raw);
	kr_buf_release(&z);
	return s;
}

#else /* no libqrencode */

bool hub_qr_available(void)
{
	return false;
}

kr_status hub_qr_print(const char *text, FILE *out, struct kr_error *err)
{
	(void)text;
	(void)out;
	return kr_fail(err, KR_ERR_CONFIG,
	               "this kiroku-hub was built without libqrencode: no QR code (the token "
	               "above works as text)");
}

kr_status hub_qr_png(const char *text, const char *path, struct kr_error *err)
{
	(void)text;
	(void)path;
	return kr_fail(err, KR_ERR_CONFIG, "this kiroku-hub was built without libqrencode: no QR code PNG");
}

#endif
