/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The progress bar berthctl draws on a terminal for transfers and clones. */
#pragma once

#include <stdint.h>

/* CLOCK_MONOTONIC in µs: what START_USEC below is measured in. */
uint64_t ctl_progress_now_usec(void);

/* One line on stderr, redrawn in place: bar, percent, rate (bytes where SIZE, the bytes of the
 * whole, is known, else percent), ETA. P is 0..1; START_USEC is when the work began. The caller
 * ends the line ("\n") when done, and draws only where stderr is a terminal. */
void ctl_progress_draw(double p, uint64_t size, uint64_t start_usec);
