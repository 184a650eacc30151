/* qr.h: the enrolment token as a QR code, on the terminal or as a PNG file (libqrencode, optional).
 *
 * Built with libqrencode when CMake finds it (pkg-config libqrencode): KIROKU_HAVE_QRENCODE. Without it every
 * function says so (KR_ERR_CONFIG) and hub_qr_available is false. The code is version-chosen by libqrencode,
 * error correction level M, 8-bit mode, with the 4-module quiet zone readers need.
 */
#ifndef KR_HUB_QR_H
#define KR_HUB_QR_H

#include <stdbool.h>
#include <stdio.h>

#include "kiroku/error.h"

bool hub_qr_available(void);

/* Draws the code with Unicode half blocks, black on white (ANSI colours, whatever the terminal's own). */
kr_status hub_qr_print(const char *text, FILE *out, struct kr_error *err);

/* Writes the code as a greyscale PNG (8 pixels a module) to path, mode 0600 (it holds the token). */
kr_status hub_qr_png(const char *text, const char *path, struct kr_error *err);

#endif
