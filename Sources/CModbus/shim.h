#ifndef SUNSPEC_GATEWAY_CMODBUS_SHIM_H
#define SUNSPEC_GATEWAY_CMODBUS_SHIM_H

#include <modbus/modbus.h>
#include <errno.h>
#include <sys/ioctl.h>

// libmodbus defines its error numbers as macros built from MODBUS_ENOBASE, which Swift
// does not import. Re-export them as constants.
static const int CMODBUS_EMBXILFUN = EMBXILFUN;
static const int CMODBUS_EMBXILADD = EMBXILADD;
static const int CMODBUS_EMBXILVAL = EMBXILVAL;
static const int CMODBUS_EMBXSFAIL = EMBXSFAIL;
static const int CMODBUS_EMBXACK = EMBXACK;
static const int CMODBUS_EMBXSBUSY = EMBXSBUSY;
static const int CMODBUS_EMBXNACK = EMBXNACK;
static const int CMODBUS_EMBXMEMPAR = EMBXMEMPAR;
static const int CMODBUS_EMBXGPATH = EMBXGPATH;
static const int CMODBUS_EMBXGTAR = EMBXGTAR;
static const int CMODBUS_EMBBADCRC = EMBBADCRC;
static const int CMODBUS_EMBBADDATA = EMBBADDATA;
static const int CMODBUS_EMBBADEXC = EMBBADEXC;
static const int CMODBUS_EMBUNKEXC = EMBUNKEXC;
static const int CMODBUS_EMBMDATA = EMBMDATA;
static const int CMODBUS_EMBBADSLAVE = EMBBADSLAVE;
static const int CMODBUS_ENOBASE = MODBUS_ENOBASE;

/// errno of the calling thread, read right after a libmodbus call.
static inline int cmodbus_errno(void) { return errno; }

/// Bytes waiting unread on a descriptor (a socket or a serial line), or -1.
static inline int cmodbus_unread(int fd) {
    int n = 0;
    return ioctl(fd, FIONREAD, &n) == 0 ? n : -1;
}

#endif
