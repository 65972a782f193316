#pragma once

// LinkDetector: a proxy's own phi-accrual judgement of one storage node, from what its link to
// the node sees (docs/membership.md, "The proxy's view of its links").
//
// The link is request/response, so the node owes an answer only after something was sent to it.
// A heartbeat is any bytes read from the node; the silence judged is the time since the node
// last sent any, counted only from when it owed something (PhiAccrualDetector::Expect: the
// moment a request's last byte was written to its socket, so that a large value still being
// written is not taken for silence), so an idle link is never suspected for being idle. A link that
// has heard nothing for the ping interval sends one cheap request (a ping: KeyCountRequest,
// answered by the node's connection thread from its counters), at most one unanswered at a time: an
// idle node keeps being judged, and a node busy with one slow request still shows that it lives.
//
// With interval I (--link-ping-ms) the detector uses the nodes' calibration for an interval
// (PhiOptions::ForInterval: deviation floor I / 2, acceptable pause 2 I). Answers mostly come
// within a millisecond, so a node that stops answering is suspected after about
// 2 I + 5.2 x I / 2 = 4.6 I of silence while it owes an answer (460 ms at the default 100 ms).
// Suspicion ends with the next answer.
//
// The owner's own stalls are not blamed on the node: a Judge() call later than the acceptable
// pause after the previous one judges nothing (the answers that arrived meanwhile may not have
// been read yet); the next call judges again.
//
// Pure: time is passed in (monotonic milliseconds), nothing sleeps. Not thread-safe: one owner
// (the worker whose link judges the node, proxy/server/worker.h).

#include <cstdint>

#include "common/membership/phi_detector.h"

namespace shoal::proxy {

struct LinkDetectorOptions {
  double threshold = 8.0;          // --phi-threshold; 0 turns the detector off
  int64_t ping_interval_ms = 100;  // --link-ping-ms
};

class LinkDetector {
 public:
  explicit LinkDetector(const LinkDetectorOptions& options);

  // Something the node answers (a request, a ping, Hello) was written to it at `now_ms`.
  void Sent(int64_t now_ms);
  // Bytes were read from the node at `now_ms`; `still_owed`: requests sent to it remain
  // unanswered. Returns true when this ends a suspicion.
  bool Answered(int64_t now_ms, bool still_owed);
  // Whether to send a ping now (nothing heard for the ping interval, no ping unanswered). The
  // caller then sends one and calls PingSent.
  bool PingDue(int64_t now_ms) const;
  void PingSent(int64_t now_ms);
  // The owner's periodic judgement; returns true when the node becomes suspected at this call.
  bool Judge(int64_t now_ms);

  // Phi at `now_ms`: 0 while the node owes nothing.
  double Phi(int64_t now_ms) const;
  // How long the node has been silent while owing an answer (0 while it owes nothing).
  int64_t SilentMs(int64_t now_ms) const;
  bool suspected() const { return suspected_; }
  bool owed() const { return owed_; }
  double threshold() const { return options_.threshold; }
  const PhiAccrualDetector& detector() const { return detector_; }

 private:
  const LinkDetectorOptions options_;
  const int64_t late_judgement_ms_;  // a Judge() this long after the previous one judges nothing
  PhiAccrualDetector detector_;
  bool owed_ = false;             // something was sent since the last answer
  bool ping_unanswered_ = false;  // a ping was sent since the last answer
  bool suspected_ = false;
  int64_t last_heard_ms_ = -1;  // the last answer, or the first send before any answer
  int64_t last_judged_ms_ = -1;
};

}  // namespace shoal::proxy
