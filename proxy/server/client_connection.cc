#include "proxy/server/client_connection.h"

#include <errno.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>

#include "proxy/command/command_table.h"
#include "proxy/resp/reply.h"
#include "proxy/server/worker.h"

namespace shoal::proxy {

namespace {
// Reply bytes waiting for a slow client before the proxy stops reading its commands.
constexpr size_t kMaxPendingOutput = 16u << 20;
// Request bytes of unanswered commands before the proxy stops reading a client's commands.
constexpr size_t kMaxUnansweredBytes = 8u << 20;
// Lingering close (see Linger()).
constexpr int kLingerMs = 2000;
constexpr size_t kLingerBytes = 1u << 20;
// Buffers larger than this are freed when they empty (a burst does not pin memory).
constexpr size_t kIdleBufferBytes = 64u << 10;
// Clients closed for a limit are logged at most this often per worker thread.
constexpr int64_t kLimitLogIntervalMs = 10'000;

bool TakeLimitLogTicket(int64_t now_ms) {
  thread_local int64_t last_ms = INT64_MIN / 2;
  if (now_ms - last_ms < kLimitLogIntervalMs) return false;
  last_ms = now_ms;
  return true;
}

// Reply bytes of `slot` that deciding key `key_index` can change (FormatDecided writes the
// slot's reply, its error or that key's part).
size_t PartBytes(const ReplySlot& slot, uint32_t key_index) {
  return slot.reply.size() + slot.error.size() +
         (key_index < slot.parts.size() ? slot.parts[key_index].size() : 0);
}
}  // namespace

ClientConnection::ClientConnection(Worker& worker, int fd, uint64_t id, std::string peer)
    : worker_(worker),
      fd_(fd),
      id_(id),
      peer_(std::move(peer)),
      parser_(worker.config().resp_limits),
      authenticated_(worker.config().requirepass.empty()),
      read_level_(worker.settings().read_level()),
      write_level_(worker.settings().write_level()),
      sloppy_(worker.settings().sloppy_quorum()) {}

ClientConnection::~ClientConnection() {
  read_event_.reset();
  write_event_.reset();
  if (fd_ >= 0) ::close(fd_);
}

void ClientConnection::Start() {
  read_event_.reset(
      event_new(worker_.base(), fd_, EV_READ | EV_PERSIST, &ClientConnection::OnIoEvent, this));
  write_event_.reset(
      event_new(worker_.base(), fd_, EV_WRITE | EV_PERSIST, &ClientConnection::OnIoEvent, this));
  event_add(read_event_.get(), nullptr);
}

void ClientConnection::OnIoEvent(evutil_socket_t, short what, void* arg) {
  auto* self = static_cast<ClientConnection*>(arg);
  if (self->closed_) return;
  if (self->lingering_) {
    self->OnLingerEvent(what);
    return;
  }
  if (what & EV_READ) self->OnReadable();
  if ((what & EV_WRITE) && !self->closed_) self->OnWritable();
}

void ClientConnection::OnReadable() {
  if (paused_ || closing_) return;
  const ssize_t n = in_.ReadFrom(fd_, 16384);
  if (n == 0) {
    // End of the client's stream: it may have only shut down its sending side (`nc -N`), so
    // answer what it sent before closing, as Redis does.
    peer_done_ = true;
    StopReading();
    worker_.MarkClientDirty(*this);
    return;
  }
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) Close(strerror(errno));
    return;
  }
  ProcessInput();
}

void ClientConnection::ProcessInput() {
  in_process_ = true;
  while (!closing_ && !closed_ && !paused_ && !barrier_wait_ && !in_.empty()) {
    size_t consumed = 0;
    const RespParser::Result result = parser_.Parse(in_.chars(), in_.size(), &consumed);
    if (result == RespParser::Result::kNeedMore) {
      in_.Consume(consumed);
      break;
    }
    if (result == RespParser::Result::kError) {
      if (parser_.request_too_big()) {
        worker_.stats().client_query_buffer_limit_disconnections.Inc();
        if (TakeLimitLogTicket(worker_.MonotonicMs())) {
          spdlog::warn(
              "closing client {} that sent a command larger than "
              "client-query-buffer-limit ({} bytes)",
              peer_, worker_.config().client_query_buffer_limit);
        }
      } else {
        worker_.stats().protocol_errors.Inc();
        spdlog::debug("client {}: {}", peer_, parser_.error());
      }
      ReplySlot& slot = NewSlot(CommandId::kPing);
      slot.counted = false;  // a protocol error, not a command
      ReplyError(slot, "ERR " + parser_.error());
      StopReading();
      break;
    }
    // Read-modify-write commands (see "Read-modify-write" in the header): one at a time, after
    // every earlier command of this client and before every later one. The command stays in the
    // buffer (parsed again once the barrier lifts).
    const CommandSpec* spec = LookupCommand(parser_.args()[0]);
    const bool rmw = spec != nullptr && IsReadModifyWrite(spec->id);
    if (waiting_ops_ > 0 && (rmw || rmw_in_flight_)) {
      barrier_wait_ = true;
      if (!paused_) event_del(read_event_.get());
      break;
    }
    rmw_in_flight_ = rmw;
    const size_t slots_before = slots_.size();
    Execute(spec, parser_.args());
    if (slots_.size() > slots_before) {
      slots_.back().request_bytes = static_cast<uint32_t>(std::min<size_t>(consumed, UINT32_MAX));
      unanswered_bytes_ += slots_.back().request_bytes;
    }
    in_.Consume(consumed);
    if (EnforceOutputLimit()) break;
    MaybePause();
  }
  in_process_ = false;
  in_.ReleaseIfIdle(kIdleBufferBytes);
  worker_.MarkClientDirty(*this);
}

// Closing a socket with unread input makes the kernel send a reset, which can destroy the reply
// (the protocol error, QUIT's +OK) before the client reads it. So, like nginx's lingering close:
// send FIN after the reply, then read and discard until the client closes too, for at most
// kLingerMs or kLingerBytes.
void ClientConnection::Linger() {
  lingering_ = true;
  ::shutdown(fd_, SHUT_WR);
  timeval tv{kLingerMs / 1000, (kLingerMs % 1000) * 1000};
  event_add(read_event_.get(), &tv);
}

void ClientConnection::OnLingerEvent(short what) {
  if (what & EV_TIMEOUT) return Close(nullptr);
  char scratch[16384];
  const ssize_t n = ::read(fd_, scratch, sizeof(scratch));
  if (n > 0) {
    lingered_bytes_ += static_cast<size_t>(n);
    if (lingered_bytes_ <= kLingerBytes) return;
  } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    return;
  }
  Close(nullptr);
}

void ClientConnection::StopReading() {
  closing_ = true;
  // Level-triggered: a socket with unread bytes would otherwise wake the loop forever.
  if (read_event_) event_del(read_event_.get());
}

void ClientConnection::MaybePause() {
  if (paused_) return;
  if (slots_.size() >= static_cast<size_t>(worker_.settings().max_pipeline()) ||
      unanswered_bytes_ > kMaxUnansweredBytes || held_output() > kMaxPendingOutput) {
    paused_ = true;
    worker_.stats().client_pauses.Inc();
    event_del(read_event_.get());
  }
}

ReplySlot& ClientConnection::NewSlot(CommandId command) {
  slots_.emplace_back();
  ReplySlot& slot = slots_.back();
  slot.command = command;
  slot.protocol = protocol_;
  slot.start_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count();
  slot.metric_command = static_cast<uint8_t>(command);
  slot.metric_consistency = RequestMetrics::ConsistencyOf(command, read_level_, write_level_);
  slot.counted = true;
  return slot;
}

void ClientConnection::Reply(ReplySlot& slot, std::string_view resp) {
  slot.reply.assign(resp.data(), resp.size());
  Finish(slot);
}

void ClientConnection::ReplyError(ReplySlot& slot, std::string_view message) {
  slot.reply.clear();
  resp::AppendError(slot.reply, message);
  Finish(slot);
}

void ClientConnection::HoldReplyBytes(ReplySlot& slot, size_t before, size_t after) {
  if (after >= before) {
    slot.held_bytes += after - before;
    held_reply_bytes_ += after - before;
  } else {
    const size_t less = std::min(before - after, slot.held_bytes);
    slot.held_bytes -= less;
    held_reply_bytes_ -= less;
  }
}

void ClientConnection::ChargeGathered(size_t before, size_t after) {
  gathered_bytes_ -= std::min(before, gathered_bytes_);
  gathered_bytes_ += after;
  if (after > before && !in_process_) EnforceOutputLimit();
}

bool ClientConnection::EnforceOutputLimit() {
  const uint64_t limit = worker_.settings().client_output_buffer_limit();
  if (closed_ || limit == 0 || held_output() <= limit) return false;
  worker_.stats().client_output_buffer_limit_disconnections.Inc();
  if (TakeLimitLogTicket(worker_.MonotonicMs())) {
    spdlog::warn(
        "closing client {} for overcoming client-output-buffer-limit ({} bytes held, "
        "limit {})",
        peer_, held_output(), limit);
  }
  Close("client-output-buffer-limit");
  return true;
}

void ClientConnection::Finish(ReplySlot& slot) {
  slot.done = true;
  if (slot.counted) {
    slot.counted = false;
    const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
    worker_.request_metrics().Record(slot.metric_command, slot.metric_consistency, slot.reply,
                                     static_cast<double>(now_ns - slot.start_ns) / 1e9);
  }
  // The reply is final: from now on it holds exactly its own bytes.
  HoldReplyBytes(slot, slot.held_bytes, slot.reply.size());
  if (slot.outstanding == 0 && !slot.parts.empty()) std::vector<std::string>().swap(slot.parts);
  if (!in_process_) worker_.MarkClientDirty(*this);
}

void ClientConnection::OnKeyDecided(ReplySlot& slot, uint32_t key_index, const KeyAnswer& answer,
                                    std::string_view node_error) {
  --waiting_ops_;
  if (closed_) {
    if (slot.msetnx != nullptr) FinishClosedMSetNx(slot, key_index, answer, node_error);
    if (retirable()) worker_.RetireClient(*this);
    return;
  }
  const size_t before = PartBytes(slot, key_index);
  FormatDecided(slot, key_index, answer, node_error);
  HoldReplyBytes(slot, before, PartBytes(slot, key_index));
  // While ProcessInput runs (a key decided at once, e.g. all its nodes down), it checks the
  // limit itself once the command has been executed.
  if (!in_process_ && EnforceOutputLimit()) return;
  if (--slot.outstanding == 0) {
    if (NextPhase(slot)) return;  // MSETNX's writes are under way
    Finalize(slot);
    Finish(slot);
  }
}

void ClientConnection::EndFanout(ReplySlot& slot, std::string_view resp) {
  --waiting_ops_;
  if (closed_) {
    if (retirable()) worker_.RetireClient(*this);
    return;
  }
  Reply(slot, resp);
  if (!in_process_) EnforceOutputLimit();
}

void ClientConnection::Flush() {
  flush_queued_ = false;
  if (closed_ || lingering_) return;
  if (barrier_wait_ && waiting_ops_ == 0) {
    // The read-modify-write barrier lifted: the commands held back run now.
    barrier_wait_ = false;
    if (!paused_ && !closing_) event_add(read_event_.get(), nullptr);
    ProcessInput();
  }
  // Move finished replies, in order, into the output buffer.
  while (!slots_.empty() && slots_.front().done) {
    out_.Append(slots_.front().reply);
    unanswered_bytes_ -= slots_.front().request_bytes;
    held_reply_bytes_ -= slots_.front().held_bytes;
    slots_.pop_front();
  }
  while (!out_.empty()) {
    const ssize_t n = out_.WriteTo(fd_);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      Close(strerror(errno));
      return;
    }
  }
  if (EnforceOutputLimit()) return;
  const bool want_write = !out_.empty();
  if (want_write != write_armed_) {
    write_armed_ = want_write;
    if (want_write)
      event_add(write_event_.get(), nullptr);
    else
      event_del(write_event_.get());
  }
  out_.ReleaseIfIdle(kIdleBufferBytes);
  if (closing_ && slots_.empty() && out_.empty()) {
    if (peer_done_) {
      Close(nullptr);
    } else {
      Linger();
    }
    return;
  }
  // Resume a paused client once it has drained to half its limits.
  const size_t max_pipeline = static_cast<size_t>(worker_.settings().max_pipeline());
  if (paused_ && !closing_ && slots_.size() <= max_pipeline / 2 &&
      unanswered_bytes_ <= kMaxUnansweredBytes / 2 && held_output() <= kMaxPendingOutput / 2) {
    paused_ = false;
    event_add(read_event_.get(), nullptr);
    ProcessInput();  // commands already buffered
  }
}

void ClientConnection::OnWritable() { Flush(); }

void ClientConnection::Close(const char* reason) {
  if (closed_) return;
  if (reason != nullptr) spdlog::debug("client {} closed: {}", peer_, reason);
  closed_ = true;
  read_event_.reset();
  write_event_.reset();
  ::close(fd_);
  fd_ = -1;
  // Replies that can no longer be delivered: key operations still in flight keep their slots
  // alive (they are in slots_) until they report; then the connection is retired.
  in_.Clear();
  out_.Clear();
  in_.ReleaseIfIdle(0);
  out_.ReleaseIfIdle(0);
  for (ReplySlot& slot : slots_) {
    std::string().swap(slot.reply);
    std::vector<std::string>().swap(slot.parts);
    slot.held_bytes = 0;
  }
  held_reply_bytes_ = 0;
  if (retirable()) worker_.RetireClient(*this);
}

bool ClientConnection::CheckKeyCount(const CommandSpec& spec, Args args) {
  if (spec.first_key <= 0 || spec.step <= 0) return true;
  const int64_t last =
      spec.last_key < 0 ? static_cast<int64_t>(args.size()) + spec.last_key : spec.last_key;
  const int64_t keys = last < spec.first_key ? 0 : (last - spec.first_key) / spec.step + 1;
  const int64_t limit = worker_.settings().max_keys_per_command();
  if (keys <= limit) return true;
  ReplyError(NewSlot(spec.id), "ERR too many keys in one command: " + std::to_string(keys) +
                                   " (Shoal's max-keys-per-command is " + std::to_string(limit) +
                                   ")");
  return false;
}

void ClientConnection::Execute(const CommandSpec* spec, Args args) {
  worker_.stats().commands_processed.Inc();
  if (spec == nullptr) {
    ReplySlot& slot = NewSlot(CommandId::kPing);
    slot.metric_command = RequestMetrics::kUnknownCommand;
    std::string msg = "ERR unknown command '";
    msg.append(args[0].substr(0, 128));
    msg += "', with args beginning with: ";
    // As Redis: the quoted arguments together are cut at about 128 bytes.
    std::string quoted;
    for (size_t i = 1; i < args.size() && quoted.size() < 128; ++i) {
      quoted += '\'';
      quoted.append(args[i].substr(0, 128 - quoted.size() + 1));
      quoted += "' ";
    }
    msg += quoted;
    ReplyError(slot, msg);
    return;
  }
  // Redis checks arity before authentication.
  if (!ArityOk(*spec, args.size())) {
    ReplySlot& slot = NewSlot(spec->id);
    std::string msg = "ERR wrong number of arguments for '";
    msg.append(spec->name);
    msg += "' command";
    ReplyError(slot, msg);
    return;
  }
  if (!CheckAuth(*spec)) return;
  switch (spec->id) {
    case CommandId::kPing:
      return CmdPing(args);
    case CommandId::kEcho:
      return CmdEcho(args);
    case CommandId::kQuit:
      return CmdQuit(args);
    case CommandId::kHello:
      return CmdHello(args);
    case CommandId::kAuth:
      return CmdAuth(args);
    case CommandId::kSelect:
      return CmdSelect(args);
    case CommandId::kClient:
      return CmdClient(args);
    case CommandId::kInfo:
      return CmdInfo(args);
    case CommandId::kCommand:
      return CmdCommand(args);
    case CommandId::kShoalConsistency:
      return CmdShoalConsistency(args);
    case CommandId::kShoalLocate:
      return CmdShoalLocate(args);
    case CommandId::kFunction:
      return CmdFunction(args);
    case CommandId::kTime:
      return CmdTime(args);
    case CommandId::kConfig:
      return CmdConfig(args);
    case CommandId::kFlushAll:
    case CommandId::kFlushDb:
      return CmdFlush(*spec, args);
    case CommandId::kScan:
      return CmdScan(args);
    case CommandId::kKeys:
      return CmdKeys(args);
    case CommandId::kRandomKey:
      return CmdRandomKey(args);
    case CommandId::kDbSize:
      return CmdDbSize(args);
    case CommandId::kShoalMembers:
      return CmdShoalMembers(args);
    default:
      if (!CheckKeyCount(*spec, args)) return;
      return ExecuteKeyCommand(*spec, args);
  }
}

}  // namespace shoal::proxy
