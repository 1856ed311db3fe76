// The op table (op_table.hpp): every request gmmd serves. The encoder and
// decoder walk it (proto.cpp) and docs/cli.md's protocol section is made
// from it (gmm-proto-doc), so a change here is a change of all three.
#include "proto/op_table.hpp"

#include <algorithm>
#include <array>

#include "proto/request_fields.hpp"

namespace gmm::proto {
namespace {

using namespace fields;
using P = Presence;

// Request fields, shared by the ops that take the same ones.
constexpr std::span<const RequestField> kNone{};
constexpr RequestField kNameOnly[] = {{&kName}};
constexpr RequestField kAllocFields[] = {
    {&kName}, {&kSize}, {&kWhere}, {&kNode, P::kConditional, R"("where": "node")"}, {&kMode, P::kOptional}};
constexpr RequestField kWriteFields[] = {{&kName}, {&kOffset}, {&kWriteData}};
constexpr RequestField kReadFields[] = {{&kName}, {&kOffset}, {&kLength}};
constexpr RequestField kWatchFields[] = {{&kEvents, P::kOptional}};
constexpr RequestField kAcquireFields[] = {{&kName, P::kOneOf}, {&kGid, P::kOneOf}, {&kAccess}};
constexpr RequestField kGidOnly[] = {{&kGid}};
constexpr RequestField kMutexCreateFields[] = {{&kName}, {&kMode, P::kOptional}};
constexpr RequestField kEventCreateFields[] = {
    {&kName}, {&kMode, P::kOptional}, {&kManualReset}, {&kSignaled}};
constexpr RequestField kSendFields[] = {{&kTo, P::kOneOf}, {&kNodes, P::kOneOf}, {&kKind}, {&kMessageData}};

// Reply bodies.
constexpr std::span<const ReplyField> kEmpty{};
constexpr ReplyField kPingReply[] = {{"node"}, {"pid"}, {"doorbell", "{kind, wakes}"}};
constexpr ReplyField kSectionReply[] = {{"section", "Section"}};
constexpr ReplyField kListReply[] = {{"sections", "[Section]"}};
constexpr ReplyField kStatReply[] = {{"partitions", "[Partition]"}};
constexpr ReplyField kWriteReply[] = {{"written"}};
constexpr ReplyField kReadReply[] = {{"data_b64"}};
constexpr ReplyField kWatchReply[] = {{"node"}};
constexpr ReplyField kWhoamiReply[] = {{"client"}, {"pid"}, {"uid"}, {"gid"}, {"node"}, {"handles"}};
constexpr ReplyField kAcquireReply[] = {
    {"section", "Section"}, {"address"}, {"window", "{mmap_offset, length, writable}"}};
constexpr ReplyField kLockReply[] = {{"abandoned", "boolean"}};
constexpr ReplyField kWaitReply[] = {{"signaled", "boolean"}};
constexpr ReplyField kSendReply[] = {{"sent_to", "[node]"}};

// Who may call an op, in the words docs/cli.md shows; "r" and "w" are the
// section's, mutex's or event's mode bits the caller needs.
constexpr std::string_view kAnyone = "any local client";
constexpr std::string_view kCreator = "any local client; the caller owns what it creates";
constexpr std::string_view kReader = "r";
constexpr std::string_view kWriter = "w";
constexpr std::string_view kOwner = "owner";

constexpr std::array<OpSpec, kOpCount> kOps{{
    {Op::kPing, "ping", kNone, kPingReply, kAnyone,
     "check that gmmd answers; `doorbell`: how it is woken (`ivshmem`, `uio` or `polling`) and how often it was"},
    {Op::kAlloc, "alloc", kAllocFields, kSectionReply, kCreator, "allocate a named section; this node shares it"},
    {Op::kOpen, "open", kNameOnly, kSectionReply, kReader, "share an existing section on this node"},
    {Op::kClose, "close", kNameOnly, kEmpty, kAnyone, "drop this node's share"},
    {Op::kFree, "free", kNameOnly, kEmpty, kOwner, "unlink the name and drop this node's share"},
    {Op::kList, "ls", kNone, kListReply, kAnyone, "list the sections"},
    {Op::kStat, "stat", kNone, kStatReply, kAnyone, "free and used bytes of every node's partition"},
    {Op::kWrite, "write", kWriteFields, kWriteReply, kWriter, "write bytes into a section open on this node"},
    {Op::kRead, "read", kReadFields, kReadReply, kReader, "read bytes of a section open on this node"},
    {Op::kWatch, "watch", kWatchFields, kWatchReply, kAnyone,
     "subscribe to this node's events: after the reply the connection carries only event lines"},
    {Op::kWhoami, "whoami", kNone, kWhoamiReply, kAnyone,
     "who gmmd takes the caller for (SO_PEERCRED) and how many sections it has acquired"},
    {Op::kAcquire, "acquire", kAcquireFields, kAcquireReply, "r, and w for `write`",
     "acquire a section for this client; the reply carries one descriptor (SCM_RIGHTS) to map the window"},
    {Op::kRelinquish, "relinquish", kGidOnly, kEmpty, "the client that acquired it",
     "release a section this client acquired"},
    {Op::kMutexCreate, "mutex_create", kMutexCreateFields, kEmpty, kCreator, "create a global mutex"},
    {Op::kMutexLock, "mutex_lock", kNameOnly, kLockReply, kWriter,
     "one attempt to lock a global mutex (`busy` while another client holds it)"},
    {Op::kMutexUnlock, "mutex_unlock", kNameOnly, kEmpty, "w, and the client holding it",
     "unlock a global mutex (`permission-denied` if the caller does not hold it)"},
    {Op::kEventCreate, "event_create", kEventCreateFields, kEmpty, kCreator, "create a global event"},
    {Op::kEventSet, "event_set", kNameOnly, kEmpty, kWriter, "set a global event"},
    {Op::kEventReset, "event_reset", kNameOnly, kEmpty, kWriter, "reset a global event"},
    {Op::kEventWait, "event_wait", kNameOnly, kWaitReply, kReader,
     "one attempt to take a global event (an auto-reset event is reset for the one that gets it)"},
    {Op::kSyncDestroy, "sync_destroy", kNameOnly, kEmpty, kOwner, "destroy a global mutex or event"},
    {Op::kSend, "send", kSendFields, kSendReply, kAnyone,
     "send a short message to one node, to the nodes listed or to every member"},
}};

constexpr bool rows_in_enumerator_order() {
  for (std::size_t i = 0; i < kOps.size(); ++i) {
    if (kOps[i].op != static_cast<Op>(i)) return false;
  }
  return true;
}
static_assert(rows_in_enumerator_order(), "one row per Op, in enumerator order");

}  // namespace

std::span<const OpSpec> op_table() { return kOps; }

const OpSpec& op_spec(Op op) { return kOps[static_cast<std::size_t>(op)]; }

const OpSpec* find_op(std::string_view name) {
  auto it = std::find_if(kOps.begin(), kOps.end(), [&](const OpSpec& spec) { return spec.name == name; });
  return it == kOps.end() ? nullptr : &*it;
}

}  // namespace gmm::proto
