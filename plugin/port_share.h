// Ports that belong to another dissector (TLS on 443, XMPP on 5222, STUN on 3478/3480) and carry
// WhatsApp traffic too. The plugin takes such a port with a handle that is a protocol in name only
// (a "pino"): Wireshark adds no layer for it, so a flow handed back to the port's owner shows the
// very stack, tree and reassembly stock Wireshark shows.
#pragma once

#include "ws_includes.h"

struct PortShare {
    const char *table;        // "tcp.port" or "udp.port"
    guint32 port;
    dissector_handle_t owner; // the handle the port had before (NULL when it had none)
};

// Registration phase: the pino behind the wrapper handles. Its parent is the owner's protocol
// (`owner_filter`, e.g. "tls"), so the wrapper is enabled exactly while that protocol is.
int port_share_register_pino(const char *name, const char *short_name, const char *filter_name,
                             const char *owner_filter, int fallback_parent);

// Hand-off phase: remembers the port's owner and installs `wrapper` (a handle of the pino).
void port_share_take(PortShare &share, dissector_handle_t wrapper);

// Calls `handle` from the wrapper with the reassembly budget the wrapper itself was given (TCP
// lets its direct subdissector desegment; call_dissector_* lowers that by one per nesting level,
// so without this TLS behind the wrapper could not ask TCP for more segments).
int port_share_call(dissector_handle_t handle, tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data);

// Calls the port's owner as if the plugin were not there.
int port_share_hand_back(const PortShare &share, tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data);
