// The one place where Wireshark's API differs between the versions wacall builds for
// (4.0, 4.2/4.4, 4.6). Everything version-dependent is spelled here; dissectors and glue use the
// names below and carry no version test of their own. Included by ws_includes.h.
#pragma once

#include <tuple>
#include <type_traits>

#define WACALL_WS_AT_LEAST(major, minor)                                                              \
    (WIRESHARK_VERSION_MAJOR > (major) || (WIRESHARK_VERSION_MAJOR == (major) && WIRESHARK_VERSION_MINOR >= (minor)))

// A heuristic dissector returns gboolean up to 4.0 and bool from 4.2: take the type from
// Wireshark's own typedef so the definitions match whichever header is in use.
using heur_result_t = std::invoke_result_t<heur_dissector_t, tvbuff_t *, packet_info *, proto_tree *, void *>;

// A wmem user callback (wmem_register_callback) returns gboolean up to 4.4 and bool from 4.6.
using wmem_cb_result_t = std::invoke_result_t<wmem_user_cb_t, wmem_allocator_t *, wmem_cb_event_t, void *>;

// A boolean preference is a gboolean up to 4.0 and a bool from 4.2: again taken from the
// registration function's own parameter type.
template <typename F> struct wacall_fn_params;
template <typename R, typename... A> struct wacall_fn_params<R (*)(A...)> {
    template <size_t I> using param = std::tuple_element_t<I, std::tuple<A...>>;
};
using pref_bool_t =
    std::remove_pointer_t<wacall_fn_params<decltype(&prefs_register_bool_preference)>::param<4>>;

// The Telephony menu group was renamed in 4.2.
#if WACALL_WS_AT_LEAST(4, 2)
#define WACALL_STAT_GROUP_TELEPHONY REGISTER_TELEPHONY_GROUP_UNSORTED
#else
#define WACALL_STAT_GROUP_TELEPHONY REGISTER_STAT_GROUP_TELEPHONY
#endif

// Conversation filters: the callbacks gained a user-data argument (and bool) in 4.2.
template <bool (*Valid)(packet_info *), char *(*Build)(packet_info *)>
void wacall_register_conversation_filter(const char *proto_name, const char *display_name) {
#if WACALL_WS_AT_LEAST(4, 2)
    register_conversation_filter(
        proto_name, display_name, [](packet_info *pinfo, void *) -> bool { return Valid(pinfo); },
        [](packet_info *pinfo, void *) -> char * { return Build(pinfo); }, nullptr);
#else
    register_conversation_filter(
        proto_name, display_name, [](packet_info *pinfo) -> gboolean { return Valid(pinfo) ? TRUE : FALSE; },
        [](packet_info *pinfo) -> gchar * { return Build(pinfo); });
#endif
}

// Dynamic RTP payload types gained a channel count in 4.2.
inline void wacall_rtp_dyn_payload_insert(rtp_dyn_payload_t *payload_types, unsigned pt, const char *encoding_name,
                                          int sample_rate, unsigned channels) {
#if WACALL_WS_AT_LEAST(4, 2)
    rtp_dyn_payload_insert(payload_types, pt, encoding_name, sample_rate, channels);
#else
    (void)channels;
    rtp_dyn_payload_insert(payload_types, pt, encoding_name, sample_rate);
#endif
}

// A -z tap's init callback returns whether it could start from 4.6 (tshark then fails); before,
// it returns nothing. wacall's init functions return bool; this hands Wireshark the right shape.
template <typename Result, bool (*Init)(const char *, void *)>
Result wacall_call_tap_init(const char *opt_arg, void *userdata) {
    if constexpr (std::is_void_v<Result>) (void)Init(opt_arg, userdata);
    else return Init(opt_arg, userdata);
}
template <bool (*Init)(const char *, void *)>
stat_tap_init_cb wacall_stat_tap_init() {
    return &wacall_call_tap_init<std::invoke_result_t<stat_tap_init_cb, const char *, void *>, Init>;
}

// A field's value: embedded in field_info up to 4.0, a pointer from 4.2.
inline fvalue_t *wacall_field_value(field_info *fi) {
#if WACALL_WS_AT_LEAST(4, 2)
    return fi->value;
#else
    return &fi->value;
#endif
}

// Wireshark 4.2 added plugin_describe(): the loader lists what a plugin provides.
#if WACALL_WS_AT_LEAST(4, 2)
#define WACALL_PLUGIN_DESCRIBE(flags)                                                                 \
    extern "C" WS_DLL_PUBLIC_DEF uint32_t plugin_describe(void) { return (flags); }
#else
#define WACALL_PLUGIN_DESCRIBE(flags)
#endif

// The RTP dissector's per-packet record (the data it stores under proto_rtp, key 0 =
// RTP_CONVERSATION_PROTO_DATA, private to packet-rtp.c): struct _rtp_conversation_info up to 4.0,
// renamed _rtp_packet_info in 4.2 with the same fields.
#if WACALL_WS_AT_LEAST(4, 2)
using wacall_rtp_packet_info = struct _rtp_packet_info;
#else
using wacall_rtp_packet_info = struct _rtp_conversation_info;
#endif
constexpr guint32 wacall_rtp_packet_info_key = 0;
