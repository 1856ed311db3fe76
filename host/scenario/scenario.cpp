#include "scenario.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cluster/crash_spec.hpp"

namespace gmm::host {

namespace {

Error bad(const std::string& where, const std::string& what) {
  return make_error(Errc::kInvalidArgument, fmt::format("{}: {}", where, what));
}

template <class T>
T scalar(const YAML::Node& node, const std::string& where, const char* key) {
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    throw std::runtime_error(fmt::format("{}: '{}' has the wrong type", where, key));
  }
}

ScenarioStep parse_step(const YAML::Node& node, const std::string& where) {
  if (!node.IsMap()) throw std::runtime_error(where + ": a step must be a mapping");
  ScenarioStep step;
  auto node_of = [&](const char* key) { return scalar<std::uint32_t>(node[key], where, key); };
  int kinds = 0;
  auto is = [&](const char* key) { return node[key] ? (++kinds, true) : false; };
  auto expectations = [&] {
    if (node["expect_output"]) step.expect_output = scalar<std::string>(node["expect_output"], where, "expect_output");
    if (node["expect_exit"]) {
      const auto expect = scalar<std::string>(node["expect_exit"], where, "expect_exit");
      if (expect != "nonzero" && expect != "0")
        throw std::runtime_error(where + ": 'expect_exit' is 0 or nonzero");
      step.expect_failure = expect == "nonzero";
    }
  };
  if (is("run")) {
    step.kind = ScenarioStep::Kind::kRun;
    if (!node["on"]) throw std::runtime_error(where + ": 'run' needs 'on: NODE'");
    step.node = node_of("on");
    auto argv = split_command(scalar<std::string>(node["run"], where, "run"));
    if (!argv || argv->empty()) throw std::runtime_error(where + ": 'run' is empty or badly quoted");
    step.argv = std::move(argv.value());
    expectations();
    step.name = fmt::format("node {}: {}", step.node, scalar<std::string>(node["run"], where, "run"));
  }
  if (is("console")) {
    step.kind = ScenarioStep::Kind::kConsole;
    step.node = node_of("console");
    if (!node["input"]) throw std::runtime_error(where + ": 'console' needs 'input: SCRIPT'");
    step.input = scalar<std::string>(node["input"], where, "input");
    expectations();
    step.name = fmt::format("node {} console: {}", step.node, step.input.substr(0, step.input.find('\n')));
  }
  if (is("crash")) {
    step.kind = ScenarioStep::Kind::kCrash;
    step.node = node_of("crash");
    if (node["how"]) step.how = scalar<std::string>(node["how"], where, "how");
    if (step.how != "kill" && step.how != "pause" && step.how != "panic")
      throw std::runtime_error(where + ": 'how' is kill, pause or panic");
    step.name = fmt::format("crash node {} ({})", step.node, step.how);
  }
  const struct {
    const char* key;
    ScenarioStep::Kind kind;
    const char* label;
  } node_steps[] = {{"resume", ScenarioStep::Kind::kResume, "resume node {}"},
                    {"restart", ScenarioStep::Kind::kRestart, "restart node {}"},
                    {"leave", ScenarioStep::Kind::kLeave, "node {} leaves"},
                    {"lose_memory", ScenarioStep::Kind::kLoseMemory, "node {} loses its memory"},
                    {"wait_recovered", ScenarioStep::Kind::kWaitRecovered, "recovery of node {}"}};
  for (const auto& s : node_steps) {
    if (!is(s.key)) continue;
    step.kind = s.kind;
    step.node = node_of(s.key);
    step.name = fmt::format(fmt::runtime(s.label), step.node);
  }
  if (node["crash_at"]) {
    if (step.kind != ScenarioStep::Kind::kRestart) throw std::runtime_error(where + ": 'crash_at' goes with 'restart'");
    step.crash_at = scalar<std::string>(node["crash_at"], where, "crash_at");
    if (Status valid = check_crash_spec(step.crash_at); !valid) throw std::runtime_error(where + ": " + valid.error().message);
    step.name += " (gmmd armed to die at " + step.crash_at + ")";
  }
  if (is("directory")) {
    step.kind = ScenarioStep::Kind::kDirectory;
    const YAML::Node d = node["directory"];
    if (!d.IsMap()) throw std::runtime_error(where + ": 'directory' is a mapping of primary, replica, not_on");
    for (const auto& entry : d) {
      const auto key = entry.first.as<std::string>();
      auto value = scalar<std::uint32_t>(entry.second, where, key.c_str());
      if (key == "primary") step.primary = value;
      else if (key == "replica") step.replica = value;
      else if (key == "not_on") step.not_on = value;
      else throw std::runtime_error(where + ": 'directory' knows primary, replica and not_on, not '" + key + "'");
    }
    step.name = "the directory is";
    if (step.primary) step.name += fmt::format(" primary on node {}", *step.primary);
    if (step.replica) step.name += fmt::format(" replica on node {}", *step.replica);
    if (step.not_on) step.name += fmt::format(" not on node {}", *step.not_on);
  }
  if (is("fenced")) {
    step.kind = ScenarioStep::Kind::kFenced;
    if (!node["fenced"].IsSequence()) throw std::runtime_error(where + ": 'fenced' is a list of node ids");
    for (const auto& fenced : node["fenced"]) step.members.push_back(scalar<std::uint32_t>(fenced, where, "fenced"));
    step.name = fmt::format("the watcher fenced node(s) {}", fmt::join(step.members, ","));
  }
  if (is("members")) {
    step.kind = ScenarioStep::Kind::kMembers;
    if (!node["members"].IsSequence()) throw std::runtime_error(where + ": 'members' is a list of node ids");
    for (const auto& member : node["members"]) step.members.push_back(scalar<std::uint32_t>(member, where, "members"));
    std::sort(step.members.begin(), step.members.end());
    step.name = fmt::format("the members are {}", fmt::join(step.members, ","));
  }
  if (node["within_ms"]) step.within_ms = scalar<std::uint64_t>(node["within_ms"], where, "within_ms");
  if (is("fsck")) {
    step.kind = ScenarioStep::Kind::kFsck;
    if (scalar<std::string>(node["fsck"], where, "fsck") != "clean")
      throw std::runtime_error(where + ": the only fsck expectation is 'clean'");
    step.name = "fsck is clean";
  }
  if (is("sleep_ms")) {
    step.kind = ScenarioStep::Kind::kSleep;
    step.sleep_ms = scalar<std::uint64_t>(node["sleep_ms"], where, "sleep_ms");
    step.name = fmt::format("sleep {} ms", step.sleep_ms);
  }
  if (kinds != 1)
    throw std::runtime_error(where + ": a step has exactly one of run, console, crash, resume, restart, leave, "
                                     "lose_memory, wait_recovered, directory, members, fenced, fsck, sleep_ms");
  if (node["name"]) step.name = scalar<std::string>(node["name"], where, "name");
  return step;
}

std::vector<ScenarioStep> parse_steps(const YAML::Node& list, const std::string& origin, const char* section) {
  std::vector<ScenarioStep> steps;
  if (!list) return steps;
  if (!list.IsSequence()) throw std::runtime_error(fmt::format("{}: '{}' must be a list", origin, section));
  for (std::size_t i = 0; i < list.size(); ++i)
    steps.push_back(parse_step(list[i], fmt::format("{}: {}[{}]", origin, section, i)));
  return steps;
}

}  // namespace

Result<std::vector<std::string>> split_command(const std::string& line) {
  std::vector<std::string> out;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (char c : line) {
    if (quote != 0) {
      if (c == quote) quote = 0; else word += c;
      continue;
    }
    if (c == '"' || c == '\'') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) out.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote != 0) return make_error(Errc::kInvalidArgument, "unterminated quote in: " + line);
  if (in_word) out.push_back(std::move(word));
  return out;
}

Result<Scenario> parse_scenario(const std::string& text, const std::string& origin) {
  try {
    const YAML::Node root = YAML::Load(text);
    if (!root.IsMap()) return bad(origin, "a scenario is a mapping with name, cluster, steps, checks");
    Scenario s;
    s.name = root["name"] ? root["name"].as<std::string>() : origin;
    if (root["description"]) s.description = root["description"].as<std::string>();
    if (const YAML::Node c = root["cluster"]) {
      if (c["mode"]) s.mode = c["mode"].as<std::string>();
      if (c["nodes"]) s.nodes = c["nodes"].as<std::uint32_t>();
      if (c["pool_size"]) s.pool_size = c["pool_size"].as<std::string>();
      if (c["heartbeat_ms"]) s.heartbeat_ms = c["heartbeat_ms"].as<std::uint32_t>();
      if (c["miss_threshold"]) s.miss_threshold = c["miss_threshold"].as<std::uint32_t>();
      if (c["detector"]) {
        s.detector = c["detector"].as<std::string>();
        if (*s.detector != "host" && *s.detector != "heartbeat" && *s.detector != "both")
          return bad(origin, "cluster.detector is host, heartbeat or both");
      }
      if (const YAML::Node armed = c["crash_at"]) {
        if (!armed.IsMap()) return bad(origin, "cluster.crash_at maps node ids to crash points (NODE: POINT[:N][:ACTION])");
        for (const auto& entry : armed) {
          const auto id = entry.first.as<std::uint32_t>();
          const auto spec = entry.second.as<std::string>();
          if (Status valid = check_crash_spec(spec); !valid) return bad(origin, "cluster.crash_at: " + valid.error().message);
          s.crash_at.emplace_back(id, spec);
        }
      }
    }
    if (s.mode != "proc" && s.mode != "vm") return bad(origin, "cluster.mode is proc or vm");
    s.steps = parse_steps(root["steps"], origin, "steps");
    s.checks = parse_steps(root["checks"], origin, "checks");
    if (s.steps.empty()) return bad(origin, "a scenario needs at least one step");
    for (const auto* list : {&s.steps, &s.checks}) {
      for (const auto& step : *list) {
        std::vector<std::uint32_t> named{step.node};
        named.insert(named.end(), step.members.begin(), step.members.end());
        for (const auto& n : {step.primary, step.replica, step.not_on})
          if (n) named.push_back(*n);
        for (std::uint32_t n : named)
          if (n >= s.nodes) return bad(origin, fmt::format("step '{}' names node {} of {}", step.name, n, s.nodes));
      }
    }
    for (const auto& [id, spec] : s.crash_at)
      if (id >= s.nodes) return bad(origin, fmt::format("cluster.crash_at names node {} of {}", id, s.nodes));
    return s;
  } catch (const YAML::Exception& e) {
    return bad(origin, std::string("not valid YAML: ") + e.what());
  } catch (const std::exception& e) {
    return make_error(Errc::kInvalidArgument, e.what());
  }
}

Result<Scenario> load_scenario(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error(Errc::kIo, "cannot read scenario " + path);
  std::stringstream text;
  text << in.rdbuf();
  return parse_scenario(text.str(), path);
}

}  // namespace gmm::host
