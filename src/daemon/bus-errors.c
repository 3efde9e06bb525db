/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthd's D-Bus error names and the errnos they stand for. */
#include <errno.h>

#include "bus-errors.h"

const sd_bus_error_map berth_bus_errors[] = {
        SD_BUS_ERROR_MAP(BUS_ERROR_NO_SUCH_MACHINE, ENXIO),
        SD_BUS_ERROR_MAP(BUS_ERROR_MACHINE_EXISTS, EEXIST),
        SD_BUS_ERROR_MAP(BUS_ERROR_NO_MACHINE_FOR_PID, ENXIO),
        SD_BUS_ERROR_MAP_END
};
