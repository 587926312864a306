// Sanitised corpus export: each call stanza as one record of the wacrg capture schema
// (spec-digest-wacrg.md §5.1), with the stanza tree kept (tags, attribute names, child order,
// value types and lengths) and every value that is not known structure replaced by the
// placeholders of §5.3. See docs/corpus.md for the placeholder table.
//
// Allow-list, not deny-list: an attribute value stays in clear only when its attribute name is
// on a list of protocol parameters (type, count, rate, medium, ...) AND the value has the
// expected shape (a short decimal, a short lowercase word, a dotted version); a node's content
// stays only for <warp_mi_tag_len>. Everything else becomes a labelled placeholder.
//
// Pseudonyms are consistent within one export (one Exporter): the same call-id, stanza id, JID
// user, ciphertext, key or relay name maps to the same placeholder in every record.
//
// Plain C++17 over the decoded tree of wabinary/node.h; YAML is written with libyaml's emitter
// (every scalar quoted by the emitter, so the output is always valid YAML).
#pragma once

#include "wabinary/node.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace wacall::corpus {

enum class Direction : uint8_t { Unknown, Outgoing, Incoming };

// Where a stanza came from (none of it identifies a person).
struct Context {
    uint32_t frame = 0;      // capture frame number
    unsigned index = 0;      // 0-based index of the stanza among the frame's stanzas
    double rel_time = 0;     // seconds since the start of the capture
    Direction direction = Direction::Unknown;  // client->server = Outgoing; Unknown: inferred
    int dict_version = -1;   // WABinary dictionary version (-1 unknown)
};

// Values the exporter cannot know; the defaults suit a capture decrypted with a key log.
struct Options {
    std::string technique = "websocket-capture";  // source.technique (schema enum)
    std::string confidence = "unknown";           // schema enum
    std::string status = "draft";                 // schema enum
    std::vector<std::string> tools = {"wacall"};  // source.tools ("tool" or "tool@version")
};

// The schema enums (§5.1), for validating Options.
bool valid_technique(const std::string &s);
bool valid_confidence(const std::string &s);
bool valid_status(const std::string &s);

struct AttributeEntry {
    std::string name;   // dotted path below the stanza tag, e.g. "offer.audio[2].rate"
    std::string value;  // sanitised value
    std::string note;   // wire type and length, e.g. "packed HEX_8, 32 chars"
};

// One record of the schema. Field names follow capture.schema.json.
struct Record {
    std::string id;           // assigned by yaml()/finalise in frame order: wacall-0001-offer
    std::string title;
    std::string stanza_tag;   // top-level tag: call, ack, receipt
    std::string action;       // action child tag (or inner <offer> of a receipt); "" if none
    std::string direction;    // outgoing | incoming
    bool direction_inferred = false;  // Context had none: guessed from from/to (see notes)
    std::string raw_body;     // sanitised stanza as indented XML (raw.format = xml)
    std::string decoded;      // outline: every node, attribute and content with type and length
    std::vector<AttributeEntry> attributes;
    std::string notes;
    uint32_t frame = 0;
    unsigned index = 0;
    double rel_time = 0;
};

class Exporter {
public:
    explicit Exporter(Options opt = Options());
    ~Exporter();
    Exporter(const Exporter &) = delete;
    Exporter &operator=(const Exporter &) = delete;

    // Sanitises one decoded top-level node (any stanza; callers pass call-related ones). The
    // node is not kept: the record owns only sanitised text.
    const Record &add(const wabinary::Node &top, const Context &ctx);

    size_t size() const;
    // Records in (frame, index) order with their ids assigned (wacall-0001-<action>).
    std::vector<Record> records() const;
    // The whole export: a comment header, then one YAML document per record ("---"), in frame
    // order. With no record: only the comment (an empty YAML stream) saying why.
    std::string yaml() const;
    const Options &options() const;

    struct State;  // pseudonym tables (defined in corpus.cpp)

private:
    std::unique_ptr<State> st_;
};

// One record as a YAML mapping document (used by Exporter::yaml, exposed for tests).
std::string record_yaml(const Record &r, const Options &opt);

// Direction guessed from the envelope when the transport does not say: a stanza carrying `from`
// without `to` was delivered by the server (incoming); anything else is taken as outgoing.
Direction infer_direction(const wabinary::Node &top);

}  // namespace wacall::corpus
