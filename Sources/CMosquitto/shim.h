#ifndef SUNSPEC_GATEWAY_CMOSQUITTO_SHIM_H
#define SUNSPEC_GATEWAY_CMOSQUITTO_SHIM_H

#include <mosquitto.h>
#include <errno.h>

// MQTT_PROTOCOL_V311 is a macro Swift imports as an Int32 already; the option enum too.
// errno is read right after the call that set it (mosquitto_connect reports MOSQ_ERR_ERRNO).

/// errno of the calling thread, read right after a libmosquitto call.
static inline int cmosquitto_errno(void) { return errno; }

#endif
