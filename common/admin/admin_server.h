#pragma once

// AdminServer: the operator's HTTP endpoint of a Shoal process (--admin HOST:PORT).
//
// A small router on top of civetweb, which runs its own threads: no handler ever runs on a data
// path thread (a proxy worker, a node shard), so handlers may block briefly (take a lock, sum
// metrics) but must only read state that is safe from any thread.
//
//   AdminServer admin;
//   admin.Get("/healthz", [](const HttpRequest&) { return HttpResponse::Text(200, "ok\n"); });
//   admin.Post("/loglevel", ...);          // mutations are POST only
//   Status s = admin.Start("127.0.0.1:0");  // port 0: the kernel picks (see port())
//   ...
//   admin.Stop();                          // returns once no handler runs any more
//
// Routing: exact paths (the query string is not part of the path). A known path asked with
// another method answers 405 with an Allow header (a GET never mutates anything); an unknown path
// answers 404. Routes are added before Start() only. Start/Stop from one controlling thread.

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "common/status/status.h"

struct mg_context;
struct mg_connection;

namespace shoal::admin {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string
  std::string query;   // after '?', undecoded ("" when none)
  std::string body;    // POST bodies only, at most kMaxBodyBytes

  // A query parameter's decoded value ("" when absent).
  std::string Param(const std::string& name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::map<std::string, std::string> headers;  // extra headers

  static HttpResponse Text(int status, std::string body);
  static HttpResponse Json(int status, std::string body);
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class AdminServer {
 public:
  static constexpr size_t kMaxBodyBytes = 64 * 1024;

  AdminServer() = default;
  ~AdminServer();  // Stop()
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  void Get(const std::string& path, HttpHandler handler);
  void Post(const std::string& path, HttpHandler handler);

  // Binds `host_port` (HOST:PORT, [v6]:PORT; port 0 picks a free one) and starts serving.
  Status Start(const std::string& host_port);
  // The port listened on (after a successful Start).
  uint16_t port() const { return port_; }
  // Idempotent.
  void Stop();

 private:
  static int OnBeginRequest(mg_connection* conn);
  void Serve(mg_connection* conn);

  // path -> method -> handler
  std::map<std::string, std::map<std::string, HttpHandler>> routes_;
  mg_context* ctx_ = nullptr;
  uint16_t port_ = 0;
};

// Minimal JSON string escaping (quotes included): for the handlers that write JSON by hand.
std::string JsonString(std::string_view s);

}  // namespace shoal::admin
