#pragma once

// ClientConnection: one Redis client of a worker. Reads RESP commands, executes them (connection
// commands at once, key commands through the worker's quorum fan-out) and writes the replies in
// command order, however the nodes' answers interleave.
//
// Worker thread only. Owned by the worker; a closed connection is retired (deleted by the worker
// after the current event) once no key operation is waiting to deliver into its reply slots.
//
// Backpressure: when more than --max-pipeline commands are unanswered, their requests add up to
// more than 8 MiB (so a burst of large values does not sit in node queues past the timeout), or
// more than 16 MiB of replies wait for the client (written or still being put together), the
// connection stops reading until it drains to half.
//
// Read-modify-write (APPEND, SETRANGE, MSETNX: IsReadModifyWrite): such a command reads the key
// and writes a value computed from it. So that it sees every earlier command of its client and
// every later command sees it, the connection runs it only once no earlier command is
// outstanding, and runs nothing after it until it is answered (the commands behind it stay
// buffered and reading pauses meanwhile). Other clients are not ordered with it
// (docs/replication.md, "Read-modify-write").
//
// Hard limits (Redis's client-query-buffer-limit and client-output-buffer-limit): a command
// larger than --client-query-buffer-limit is refused by the parser before it is buffered
// ("-ERR Protocol error: too big request ...", then the connection closes); a client for which
// more than --client-output-buffer-limit reply bytes are held (in the output buffer, in replies
// of commands still waiting for other keys or for earlier commands, or as node replies its
// undecided key operations gathered) is closed at once, as Redis closes a client past its hard
// output limit. Each is counted in INFO. Once it is closed, each of its reads is dropped at its
// next node reply (no answer is owed, and anti-entropy does what its read-repair would have).
// So one client costs the proxy at most about: one command (query limit) plus its copies to the
// nodes, plus the output limit, plus the values its decided reads still hold for read-repair.

#include <event2/event.h>

#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/buffer/byte_buffer.h"
#include "proxy/quorum/consistency.h"
#include "proxy/quorum/key_operation.h"
#include "proxy/resp/parser.h"
#include "proxy/server/reply_slot.h"

namespace shoal::proxy {

class Worker;

class ClientConnection {
 public:
  ClientConnection(Worker& worker, int fd, uint64_t id, std::string peer);
  ~ClientConnection();
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  void Start();

  // Key `key_index` of `slot` has its answer (quorum reached or failed). `answer` and `node_error`
  // (the first error a node answered with) are valid for the call only.
  void OnKeyDecided(ReplySlot& slot, uint32_t key_index, const KeyAnswer& answer,
                    std::string_view node_error);

  // A fan-out command (fanout.h) answers `slot` later: the connection stays alive until it does.
  void BeginFanout() { ++waiting_ops_; }
  // Its answer: `resp` (whole RESP bytes) becomes the slot's reply, unless the client is gone.
  void EndFanout(ReplySlot& slot, std::string_view resp);

  // A key operation of this client now holds `after` bytes of node replies where it held
  // `before` (KeyOperation::gathered_bytes): they count toward --client-output-buffer-limit
  // like the replies held, so a client that pipelines reads of big values without reading the
  // answers is closed once they pass it, not only once its replies do. May close the client.
  void ChargeGathered(size_t before, size_t after);

  // Writes finished replies (called by the worker's flush).
  void Flush();

  // True once per flush: the first caller queues the connection, later ones need not.
  bool TakeFlushTicket() {
    if (flush_queued_) return false;
    flush_queued_ = true;
    return true;
  }

  bool closed() const { return closed_; }
  bool retirable() const { return closed_ && waiting_ops_ == 0; }
  uint64_t id() const { return id_; }

 private:
  using Args = std::span<const std::string_view>;

  void OnReadable();
  void OnWritable();
  void ProcessInput();
  // `spec`: LookupCommand(args[0]) (nullptr: unknown).
  void Execute(const struct CommandSpec* spec, Args args);
  void Close(const char* reason);
  void MaybePause();
  // QUIT, a protocol error or the client's end of stream: read no more; close once the replies
  // already owed are written.
  void StopReading();
  void Linger();
  void OnLingerEvent(short what);
  // Output accounting (see "Hard limits"): adds `delta` bytes to the held reply bytes.
  void HoldReplyBytes(ReplySlot& slot, size_t before, size_t after);
  size_t held_output() const { return out_.size() + held_reply_bytes_ + gathered_bytes_; }
  // Closes the client if it holds more replies than --client-output-buffer-limit; true if so.
  bool EnforceOutputLimit();
  ReplySlot& NewSlot(CommandId command);
  void Finish(ReplySlot& slot);
  void Reply(ReplySlot& slot, std::string_view resp);
  void ReplyError(ReplySlot& slot, std::string_view message);

  // A key command naming more keys than --max-keys-per-command is answered an error.
  bool CheckKeyCount(const struct CommandSpec& spec, Args args);

  // commands_connection.cc
  bool CheckAuth(const struct CommandSpec& spec);
  void CmdPing(Args args);
  void CmdEcho(Args args);
  void CmdQuit(Args args);
  void CmdHello(Args args);
  void CmdAuth(Args args);
  void CmdSelect(Args args);
  void CmdClient(Args args);
  void CmdInfo(Args args);
  void CmdCommand(Args args);
  void CmdShoalConsistency(Args args);
  void CmdShoalLocate(Args args);
  void CmdShoalMembers(Args args);
  void CmdFunction(Args args);
  void CmdTime(Args args);
  void CmdConfig(Args args);
  bool Authenticate(std::string_view user, std::string_view password, std::string* error);

  // commands_sets.cc: SMOVE and the set algebra (several keys, several phases).
  void PrepareSetSlot(ReplySlot& slot, Args args, uint32_t keys);
  void FormatSetKey(ReplySlot& slot, uint32_t key_index, const KeyAnswer& answer);
  bool NextSetPhase(ReplySlot& slot);
  void FinalizeSet(ReplySlot& slot);

  // commands_keyspace.cc
  void CmdFlush(const struct CommandSpec& spec, Args args);
  // commands_scan.cc
  int ScanReaders() const;
  void CmdScan(Args args);
  void CmdKeys(Args args);
  void CmdRandomKey(Args args);
  void CmdDbSize(Args args);

  // commands_keys.cc
  void ExecuteKeyCommand(const struct CommandSpec& spec, Args args);
  void StartKeys(ReplySlot& slot, uint32_t count);
  void FormatDecided(ReplySlot& slot, uint32_t key_index, const KeyAnswer& answer,
                     std::string_view node_error);
  void Finalize(ReplySlot& slot);
  // Once every key of `slot` is decided: starts a command's next phase (MSETNX's writes) and
  // returns true, or returns false when the reply is final.
  bool NextPhase(ReplySlot& slot);
  bool NextRenamePhase(ReplySlot& slot);
  void StartMSetNxPhase(ReplySlot& slot);
  // The client hung up during an MSETNX: a write already sent is still undone if the command
  // fails (the undo goes on for nobody); nothing new is read or written.
  void FinishClosedMSetNx(ReplySlot& slot, uint32_t key_index, const KeyAnswer& answer,
                          std::string_view node_error);
  void FinalizeMSetNx(ReplySlot& slot);

  static void OnIoEvent(evutil_socket_t fd, short what, void* arg);

  Worker& worker_;
  int fd_;
  const uint64_t id_;
  const std::string peer_;
  std::unique_ptr<event, decltype(&event_free)> read_event_{nullptr, &event_free};
  std::unique_ptr<event, decltype(&event_free)> write_event_{nullptr, &event_free};

  ByteBuffer in_;
  ByteBuffer out_;
  RespParser parser_;
  std::deque<ReplySlot> slots_;  // unanswered commands, oldest first
  uint32_t waiting_ops_ = 0;     // key operations that will still call OnKeyDecided
  size_t gathered_bytes_ = 0;    // node reply bytes its undecided key operations hold
  size_t unanswered_bytes_ = 0;  // request bytes of the commands in slots_
  size_t held_reply_bytes_ = 0;  // sum of slots_[i].held_bytes: replies not yet in out_

  bool closed_ = false;
  bool closing_ = false;  // see StopReading()
  bool paused_ = false;
  bool write_armed_ = false;
  bool flush_queued_ = false;  // in the worker's dirty list
  bool peer_done_ = false;     // the client closed its sending side (EOF read)
  bool lingering_ = false;     // replies written and FIN sent; discarding input until close
  size_t lingered_bytes_ = 0;
  bool in_process_ = false;
  bool rmw_in_flight_ = false;  // the last command executed is a read-modify-write
  bool barrier_wait_ = false;   // a command waits for the ops in flight (Read-modify-write)

  // Connection state.
  bool authenticated_;
  std::string name_;
  resp::Protocol protocol_ = resp::Protocol::kResp2;  // HELLO 2 / HELLO 3
  Consistency read_level_;
  Consistency write_level_;
  bool sloppy_;  // writes count stored hints toward write_level_ (SHOAL.CONSISTENCY ... SLOPPY)
};

}  // namespace shoal::proxy
