#include "common/admin/admin_server.h"

#include <civetweb.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <mutex>
#include <vector>

#include "common/admin/cpu_profile.h"
#include "common/config/options.h"

namespace shoal::admin {

namespace {

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Payload Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
  }
  return "Status";
}

void Send(mg_connection* conn, const HttpResponse& r) {
  std::string head = "HTTP/1.1 " + std::to_string(r.status) + " " + Reason(r.status) + "\r\n";
  head += "Content-Type: " + r.content_type + "\r\n";
  head += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  head += "Cache-Control: no-store\r\n";
  for (const auto& [name, value] : r.headers) head += name + ": " + value + "\r\n";
  head += "Connection: close\r\n\r\n";
  mg_write(conn, head.data(), head.size());
  if (!r.body.empty()) mg_write(conn, r.body.data(), r.body.size());
}

int LogMessage(const mg_connection*, const char* message) {
  spdlog::warn("admin endpoint: {}", message);
  return 1;  // handled: civetweb prints nothing itself
}

std::once_flag library_once;

}  // namespace

std::string HttpRequest::Param(const std::string& name) const {
  if (query.empty()) return "";
  std::vector<char> out(query.size() + 1);
  const int n = mg_get_var(query.data(), query.size(), name.c_str(), out.data(), out.size());
  return n < 0 ? std::string() : std::string(out.data(), static_cast<size_t>(n));
}

HttpResponse HttpResponse::Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  if (r.body.empty() || r.body.back() != '\n') r.body += '\n';
  return r;
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

AdminServer::~AdminServer() { Stop(); }

void AdminServer::Get(const std::string& path, HttpHandler handler) {
  routes_[path]["GET"] = std::move(handler);
}

void AdminServer::Post(const std::string& path, HttpHandler handler) {
  routes_[path]["POST"] = std::move(handler);
}

Status AdminServer::Start(const std::string& host_port) {
  auto hp = ParseHostPort(host_port);
  if (!hp.ok()) return Status::InvalidArgument("--admin: " + hp.status().message());
  std::call_once(library_once, [] { mg_init_library(0); });
  // civetweb's syntax: IPv4 "1.2.3.4:80", IPv6 "[::1]:80"; a host name is not accepted.
  std::string listen = hp->ToString();
  if (hp->host == "localhost") listen = "127.0.0.1:" + std::to_string(hp->port);
  const char* options[] = {
      "listening_ports", listen.c_str(),      "num_threads", "2",    "request_timeout_ms",
      "10000",           "enable_keep_alive", "no",          nullptr};
  mg_callbacks callbacks{};
  callbacks.begin_request = &AdminServer::OnBeginRequest;
  callbacks.log_message = &LogMessage;
  ctx_ = mg_start(&callbacks, this, options);
  if (ctx_ == nullptr) {
    return Status::InvalidArgument("--admin: cannot listen on " + host_port +
                                   " (address in use, or not an IP address)");
  }
  mg_server_port ports[4];
  const int n = mg_get_server_ports(ctx_, 4, ports);
  port_ = n > 0 ? static_cast<uint16_t>(ports[0].port) : hp->port;
  return Status::Ok();
}

void AdminServer::Stop() {
  if (ctx_ == nullptr) return;
  CancelCpuProfiles();  // a handler taking a profile returns at once
  mg_stop(ctx_);
  ctx_ = nullptr;
}

int AdminServer::OnBeginRequest(mg_connection* conn) {
  auto* self = static_cast<AdminServer*>(mg_get_user_data(mg_get_context(conn)));
  self->Serve(conn);
  return 1;  // handled
}

void AdminServer::Serve(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  HttpRequest req;
  req.method = info->request_method != nullptr ? info->request_method : "";
  req.path = info->local_uri != nullptr ? info->local_uri : "";
  req.query = info->query_string != nullptr ? info->query_string : "";
  auto route = routes_.find(req.path);
  if (route == routes_.end()) {
    Send(conn, HttpResponse::Text(404, "not found: " + req.path + "\n"));
    return;
  }
  auto handler = route->second.find(req.method);
  if (handler == route->second.end()) {
    std::string allow;
    for (const auto& [method, h] : route->second) allow += (allow.empty() ? "" : ", ") + method;
    HttpResponse r = HttpResponse::Text(
        405, req.method + " not allowed on " + req.path + " (allowed: " + allow + ")\n");
    r.headers["Allow"] = allow;
    Send(conn, r);
    return;
  }
  if (req.method == "POST") {
    if (info->content_length > static_cast<long long>(kMaxBodyBytes)) {
      Send(conn, HttpResponse::Text(413, "body larger than 64 KiB\n"));
      return;
    }
    char buf[4096];
    int n;
    while ((n = mg_read(conn, buf, sizeof(buf))) > 0) {
      req.body.append(buf, static_cast<size_t>(n));
      if (req.body.size() > kMaxBodyBytes) {
        Send(conn, HttpResponse::Text(413, "body larger than 64 KiB\n"));
        return;
      }
    }
  }
  Send(conn, handler->second(req));
}

}  // namespace shoal::admin
