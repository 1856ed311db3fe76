// gmmctl: the command-line client of gmmd (one node's daemon).
//
//   gmmctl [--socket PATH] alloc NAME SIZE [--on NODE|any] [--mode 0640]
//   gmmctl open|close|free NAME
//   gmmctl write NAME OFFSET TEXT      gmmctl read NAME OFFSET LEN
//   gmmctl ls [--json]                 gmmctl stat [--json]      gmmctl ping     gmmctl whoami
//   gmmctl watch [--count N] [--timeout SEC] [--event KIND]... [--json]
//
// The socket defaults to $GMM_SOCKET. Sizes take K/M/G/T suffixes (1K = 1024).
// Any failure: exit status 1 (2 for usage errors) and one line on stderr.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "proto/client.hpp"
#include "proto/proto.hpp"
#include "proto/cli_text.hpp"
#include "gmmctl/print.hpp"
#include "gmmctl/watch.hpp"

namespace {

using gmm::proto::Op;
using gmm::proto::Request;
using nlohmann::json;

struct Failure {
  int status;
  std::string message;
};

struct Options {
  std::string socket;
  double timeout_s = 30;
  std::string name;
  std::string size_text;
  std::string on;
  std::string offset_text;
  std::string length_text;
  std::string text;
  std::string mode_text;               // alloc
  bool json = false;
  std::uint64_t count = 0;             // watch
  double watch_timeout_s = 0;          // watch
  std::vector<std::string> events;     // watch
  std::string to;                      // send: N, N,M,... or all
  std::uint32_t kind = 0;              // send
};

// send's recipients: "all", one node "2", or a group "1,3".
void set_recipients(Request& request, const std::string& to) {
  if (to == "all") {
    request.recipients = Request::Recipients::kAll;
    return;
  }
  std::uint64_t nodes = 0;
  std::size_t count = 0;
  for (std::size_t start = 0; start <= to.size();) {
    const std::size_t comma = std::min(to.find(',', start), to.size());
    const std::string item = to.substr(start, comma - start);
    unsigned node = 0;
    const auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), node);
    if (item.empty() || error != std::errc() || end != item.data() + item.size() || node >= gmm::layout::kMaxNodes) {
      throw Failure{2, "invalid recipient \"" + item + "\" in \"" + to + "\" (a node number below " +
                           std::to_string(gmm::layout::kMaxNodes) + ", a comma-separated list of them, or all)"};
    }
    nodes |= std::uint64_t{1} << node;
    ++count;
    start = comma + 1;
  }
  request.recipients = count == 1 ? Request::Recipients::kNode : Request::Recipients::kGroup;
  request.nodes = nodes;
}

std::uint64_t size_arg(const char* what, const std::string& text) {
  auto value = gmm::parse_size(text);
  if (!value) {
    throw Failure{2, std::string("invalid ") + what + " \"" + text + "\" (digits with an optional K, M, G or T suffix)"};
  }
  return *value;
}

gmm::Placement placement_arg(const std::string& on) {
  if (on.empty() || on == "local") return gmm::Placement::local();
  if (on == "any") return gmm::Placement::anywhere();
  unsigned long node = 0;
  std::size_t used = 0;
  try {
    node = std::stoul(on, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != on.size() || node >= gmm::layout::kMaxNodes) {
    throw Failure{2, "invalid --on \"" + on + "\" (a node id, \"any\" or \"local\")"};
  }
  return gmm::Placement::on(static_cast<std::uint32_t>(node));
}

std::uint32_t mode_arg(const std::string& text) {
  std::size_t used = 0;
  unsigned long mode = 0;
  try {
    mode = std::stoul(text, &used, 8);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || mode > gmm::proto::kMaxMode) {
    throw Failure{2, "invalid --mode \"" + text + "\" (octal permission bits, e.g. 0640)"};
  }
  return static_cast<std::uint32_t>(mode);
}

Request build_request(Op op, const Options& options) {
  Request request;
  request.op = op;
  request.name = options.name;
  switch (op) {
    case Op::kAlloc:
      request.size = size_arg("size", options.size_text);
      request.where = placement_arg(options.on);
      if (!options.mode_text.empty()) request.mode = mode_arg(options.mode_text);
      break;
    case Op::kWrite:
      request.offset = size_arg("offset", options.offset_text);
      request.data = options.text;
      break;
    case Op::kRead:
      request.offset = size_arg("offset", options.offset_text);
      request.length = size_arg("length", options.length_text);
      break;
    case Op::kSend:
      set_recipients(request, options.to);
      request.kind = options.kind;
      request.data = options.text;
      break;
    default:
      break;
  }
  return request;
}

void print_reply(Op op, const Options& options, const json& reply) {
  const std::string& name = options.name;
  switch (op) {
    case Op::kPing:
      std::cout << "gmmd on node " << reply.at("node").get<unsigned>() << " is up (pid "
                << reply.at("pid").get<long>() << ")\n";
      break;
    case Op::kAlloc:
      std::cout << "allocated " << name << ": " << gmm::gmmctl::section_summary(reply.at("section")) << "\n";
      break;
    case Op::kOpen:
      std::cout << "opened " << name << ": " << gmm::gmmctl::section_summary(reply.at("section")) << "\n";
      break;
    case Op::kClose:
      std::cout << "closed " << name << "\n";
      break;
    case Op::kFree:
      std::cout << "freed " << name << "\n";
      break;
    case Op::kList:
      std::cout << (options.json ? reply.at("sections").dump(2) + "\n"
                                 : gmm::gmmctl::section_table(reply.at("sections")));
      break;
    case Op::kStat:
      std::cout << (options.json ? reply.at("partitions").dump(2) + "\n"
                                 : gmm::gmmctl::partition_table(reply.at("partitions")));
      break;
    case Op::kWrite:
      std::cout << "wrote " << reply.at("written").get<std::uint64_t>() << " bytes to " << name << " at offset "
                << options.offset_text << "\n";
      break;
    case Op::kRead: {
      auto data = gmm::proto::base64_decode(reply.at("data_b64").get<std::string>());
      if (!data) throw Failure{1, "malformed reply from gmmd (data_b64)"};
      std::cout << gmm::gmmctl::printable(*data) << "\n";
      break;
    }
    case Op::kWatch:
      break;  // see watch()
    case Op::kSend: {
      std::string nodes;
      for (const auto& node : reply.at("sent_to")) nodes += (nodes.empty() ? "" : ", ") + std::to_string(node.get<unsigned>());
      std::cout << "sent kind " << options.kind << " to node(s) " << (nodes.empty() ? "none" : nodes) << "\n";
      break;
    }
    case Op::kWhoami:
      std::cout << "client " << reply.at("client").get<std::uint64_t>() << " pid " << reply.at("pid").get<long>()
                << " uid " << reply.at("uid").get<unsigned>() << " gid " << reply.at("gid").get<unsigned>()
                << " on node " << reply.at("node").get<unsigned>() << "\n";
      break;
    default:  // the application requests (libgmm) have no gmmctl command
      std::cout << reply.dump() << "\n";
      break;
  }
}

std::chrono::milliseconds milliseconds(double seconds) {
  return std::chrono::milliseconds(static_cast<long>(seconds * 1000));
}

void watch(const Options& options) {
  gmm::gmmctl::WatchOptions watch;
  watch.socket = options.socket;
  watch.reply_timeout = milliseconds(options.timeout_s);
  watch.count = options.count;
  watch.timeout = milliseconds(options.watch_timeout_s);
  watch.json = options.json;
  for (const std::string& name : options.events) {
    if (name == gmm::proto::kMessageEventName) {
      watch.events |= gmm::proto::kMessageEventBit;
      continue;
    }
    auto kind = gmm::proto::event_kind_from_name(name);
    if (!kind) {
      throw Failure{2, "unknown event \"" + name +
                           "\" (node-failed, memory-lost, node-leaving, node-joined or message)"};
    }
    watch.events |= gmm::proto::event_bit(*kind);
  }
  gmm::Status watched = gmm::gmmctl::watch_events(watch);
  if (!watched) throw Failure{1, watched.error().message};
}

void run(Op op, const Options& options) {
  Request request = build_request(op, options);
  if (options.socket.empty()) throw Failure{2, "no socket: pass --socket PATH or set GMM_SOCKET"};
  if (op == Op::kWatch) return watch(options);
  auto client = gmm::proto::Client::connect(options.socket);
  if (!client) throw Failure{1, client.error().message + " (is gmmd running?)"};
  auto reply = client->call(request, milliseconds(options.timeout_s));
  if (!reply) {
    throw Failure{1, reply.error().message + " (" + std::string(gmm::errc_name(reply.error().code)) + ")"};
  }
  try {
    print_reply(op, options, *reply);
  } catch (const json::exception& e) {
    throw Failure{1, std::string("malformed reply from gmmd: ") + e.what()};
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gmmctl: talk to this node's gmmd"};
  app.require_subcommand(1);
  Options options;
  if (const char* env = std::getenv("GMM_SOCKET")) options.socket = env;
  app.add_option("--socket", options.socket, "gmmd's unix socket (default: $GMM_SOCKET)");
  app.add_option("--timeout", options.timeout_s, "seconds to wait for gmmd's reply")->check(CLI::PositiveNumber);
  app.fallthrough();

  Op op = Op::kPing;
  auto command = [&](Op this_op, const char* help) {
    CLI::App* sub = app.add_subcommand(std::string(gmm::proto::op_name(this_op)), help);
    sub->callback([&op, this_op] { op = this_op; });
    return sub;
  };
  auto name_arg = [&](CLI::App* sub) { sub->add_option("name", options.name, "section name")->required(); };

  CLI::App* alloc = command(Op::kAlloc, "allocate a named section (this node shares it)");
  name_arg(alloc);
  alloc->add_option("size", options.size_text, "bytes, e.g. 4096, 64K, 1M")->required();
  alloc->add_option("--on", options.on, "node to place it on, or \"any\" (default: this node)");
  alloc->add_option("--mode", options.mode_text, "octal permission bits for owner/group/others (default 0600)");
  name_arg(command(Op::kOpen, "share an existing section on this node"));
  name_arg(command(Op::kClose, "drop this node's share"));
  name_arg(command(Op::kFree, "unlink the name and drop this node's share"));
  command(Op::kList, "list sections")->add_flag("--json", options.json, "print a JSON array");
  command(Op::kStat, "free/used bytes per node")->add_flag("--json", options.json, "print a JSON array");
  command(Op::kPing, "check that gmmd answers");
  command(Op::kWhoami, "print who gmmd thinks you are (SO_PEERCRED)");
  CLI::App* write = command(Op::kWrite, "write TEXT into a section this node has open");
  name_arg(write);
  write->add_option("offset", options.offset_text, "byte offset")->required();
  write->add_option("text", options.text, "bytes to write")->required();
  CLI::App* read = command(Op::kRead, "print LEN bytes of a section this node has open");
  name_arg(read);
  read->add_option("offset", options.offset_text, "byte offset")->required();
  read->add_option("length", options.length_text, "bytes to read")->required();
  CLI::App* watch_command = command(Op::kWatch, "print this node's events (node-failed, ...) as they happen");
  watch_command->add_option("--count", options.count, "exit after this many events (default: never)");
  watch_command->add_option("--timeout", options.watch_timeout_s, "give up (exit 1) after SEC seconds (default: never)")
      ->check(CLI::PositiveNumber);
  watch_command->add_option("--event", options.events, "only events of this kind (repeatable)");
  watch_command->add_flag("--json", options.json, "print each event as its protocol JSON line");
  CLI::App* send = command(Op::kSend, "send a short message to a node, a group or all nodes (watchers of \"message\" get it)");
  send->add_option("to", options.to, "a node number, a comma-separated list of them, or all")->required();
  send->add_option("kind", options.kind, "message kind, 1024 or more (lower kinds are GMM's own)")->required();
  send->add_option("text", options.text, "payload, at most 40 bytes")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "gmmctl: %s (see gmmctl --help)\n", e.what());
    return 2;
  }

  try {
    run(op, options);
  } catch (const Failure& failure) {
    std::string subject(gmm::proto::op_name(op));
    if (!options.name.empty()) subject += " " + options.name;
    std::fprintf(stderr, "gmmctl: %s: %s\n", subject.c_str(), failure.message.c_str());
    return failure.status;
  }
  return 0;
}
