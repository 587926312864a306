#include "port_share.h"

int port_share_register_pino(const char *name, const char *short_name, const char *filter_name,
                             const char *owner_filter, int fallback_parent) {
    int parent = proto_get_id_by_filter_name(owner_filter);
    return proto_register_protocol_in_name_only(name, short_name, filter_name, parent >= 0 ? parent : fallback_parent,
                                                FT_PROTOCOL);
}

void port_share_take(PortShare &share, dissector_handle_t wrapper) {
    share.owner = dissector_get_uint_handle(find_dissector_table(share.table), share.port);
    dissector_add_uint(share.table, share.port, wrapper);
}

int port_share_call(dissector_handle_t handle, tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data) {
    pinfo->can_desegment = pinfo->saved_can_desegment;
    return call_dissector_only(handle, tvb, pinfo, tree, data);
}

int port_share_hand_back(const PortShare &share, tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data) {
    return share.owner ? port_share_call(share.owner, tvb, pinfo, tree, data) : 0;
}
