// The README's grpcurl walkthrough, run for real: every `$ grpcurl ...` line
// of its ```console blocks goes, with the same arguments, through
// datagate_call (a grpcurl stand-in that knows only what reflection tells
// it) against a fresh server started as deploy/run.sh starts it (```console
// cloud blocks: the same with --cloud_url naming a real PostgreSQL), in
// README order, and each answer must be the one the README shows under it:
// - JSON answers compare as JSON values, object key order ignored and
//   RFC 3339 timestamps masked;
// - `ERROR:` blocks (stderr) and other text (such as `list`) line by line;
// - a command with no answer shown must still succeed.
//
// DATAGATE_README_UPDATE=1 rewrites every answer the README shows from the
// actual ones (answers left empty stay empty: show a placeholder such as {}
// to have one filled in); commands grpcurl itself would refuse (bad flags,
// JSON it cannot read) fail the test in either mode.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "json.h"
#include "pg_server.h"
#include "test_env.h"

extern char** environ;

namespace datagate::testing {
namespace {

using call::Json;

// ---- Shell words ---------------------------------------------------------

// Splits a command line into words as a POSIX shell does for plain words,
// 'single quotes', "double quotes" and backslashes. Anything the shell would
// expand or interpret (variables, globs, pipes, redirections, ...) is
// refused, so the README cannot depend on a particular shell.
absl::StatusOr<std::vector<std::string>> ShellSplit(const std::string& line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\'') {
      const size_t end = line.find('\'', i + 1);
      if (end == std::string::npos) return absl::InvalidArgumentError("unterminated single quote");
      word += line.substr(i + 1, end - i - 1);
      i = end;
    } else if (c == '"') {
      for (++i;; ++i) {
        if (i >= line.size()) return absl::InvalidArgumentError("unterminated double quote");
        if (line[i] == '"') break;
        if (line[i] == '$' || line[i] == '`') {
          return absl::InvalidArgumentError(absl::StrCat("expansion inside double quotes at column ", i + 1));
        }
        if (line[i] == '\\' && i + 1 < line.size() && std::string("$`\"\\").find(line[i + 1]) != std::string::npos) {
          ++i;
        }
        word += line[i];
      }
    } else if (c == '\\') {
      if (i + 1 >= line.size()) return absl::InvalidArgumentError("backslash at the end of the line");
      word += line[++i];
    } else if (std::string("$`|&;<>()*?[]{}#~!").find(c) != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("unquoted '", std::string(1, c), "' at column ", i + 1, ": the shell would interpret it"));
    } else {
      word += c;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

TEST(ShellSplitTest, SplitsAsAPosixShell) {
  EXPECT_THAT(*ShellSplit("grpcurl -plaintext  -H 'x-tenant-id: demo' -d '{\"a\": [1]}' host:1 a.B/C"),
              ::testing::ElementsAre("grpcurl", "-plaintext", "-H", "x-tenant-id: demo", "-d", "{\"a\": [1]}", "host:1",
                                     "a.B/C"));
  EXPECT_THAT(*ShellSplit(R"(a'b'"c\"d" e\ f '')"), ::testing::ElementsAre("abc\"d", "e f", ""));
  EXPECT_THAT(*ShellSplit(R"(-d '{"s": "it'\''s"}')"), ::testing::ElementsAre("-d", R"({"s": "it's"})"));
  for (const char* bad : {"a | b", "a > f", "-d {\"a\":1}", "$HOME", "a 'b", "echo \"$x\"", "a; b", "a*"}) {
    EXPECT_FALSE(ShellSplit(bad).ok()) << bad;
  }
}

// ---- The README -----------------------------------------------------------

struct Step {
  int line = 0;          // 1-based line of the command in README.md
  std::string command;   // after "$ "
  int answer_begin = 0;  // 0-based index of the first answer line
  std::vector<std::string> answer;
  bool cloud = false;  // runs on the gateway with a cloud store
};

std::string ReadmePath() { return std::string(DATAGATE_SOURCE_DIR) + "/README.md"; }

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<Step> ParseWalkthrough(const std::vector<std::string>& lines) {
  std::vector<Step> steps;
  bool in_console = false;
  bool cloud = false;  // a "```console cloud" block: a gateway with a cloud store
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (!in_console) {
      in_console = line == "```console" || line == "```console cloud";
      cloud = line == "```console cloud";
      continue;
    }
    if (line.rfind("```", 0) == 0) {
      in_console = false;
    } else if (line.rfind("$ ", 0) == 0) {
      steps.push_back({static_cast<int>(i) + 1, line.substr(2), static_cast<int>(i) + 1, {}, cloud});
    } else if (!steps.empty()) {
      steps.back().answer.push_back(line);
    }
  }
  return steps;
}

// ---- Running datagate_call ------------------------------------------------

struct Result {
  int exit_code = -1;
  std::string out, err;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs datagate_call with `args`; kills it after 30 seconds.
Result RunCall(const std::vector<std::string>& args, const std::string& dir) {
  std::vector<std::string> argv_storage = {DATAGATE_CALL_BINARY};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string out_path = dir + "/out", err_path = dir + "/err";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid;
  Result result;
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    result.err = absl::StrCat("cannot run ", argv[0], ": ", strerror(spawned));
    return result;
  }
  int status = 0;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > give_up) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      result.err = "datagate_call did not finish within 30 seconds\n";
      return result;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = Slurp(out_path);
  result.err = Slurp(err_path);
  return result;
}

// ---- Comparing ------------------------------------------------------------

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

// Timestamps masked, object keys sorted, so that two answers from different
// runs compare equal.
void Canonicalize(Json* v) {
  static const std::regex kTimestamp(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d))");
  if (v->kind == Json::Kind::kString && std::regex_match(v->text, kTimestamp)) v->text = "(timestamp)";
  // Rates and ages differ from run to run (and are left out at zero).
  v->members.erase(
      std::remove_if(v->members.begin(), v->members.end(),
                     [](const auto& m) { return m.first == "applied_per_second" || m.first == "oldest_pending_age"; }),
      v->members.end());
  for (Json& item : v->items) Canonicalize(&item);
  for (auto& [key, value] : v->members) Canonicalize(&value);
  std::stable_sort(v->members.begin(), v->members.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
}

// Canonical indented JSON of every value in `text`, or the parse error.
std::vector<std::string> CanonicalJsonLines(const std::string& text) {
  absl::StatusOr<std::vector<Json>> values = call::ParseJsonStream(text);
  if (!values.ok()) return {absl::StrCat("(not JSON: ", values.status().message(), ")")};
  std::vector<std::string> lines;
  for (Json& v : *values) {
    Canonicalize(&v);
    for (const std::string& line : Lines(call::WriteJson(v, true))) lines.push_back(line);
  }
  return lines;
}

// A line diff (longest common subsequence): " " both, "-" README only,
// "+" actual only.
std::string Diff(const std::vector<std::string>& want, const std::vector<std::string>& got) {
  const size_t n = want.size(), m = got.size();
  std::vector<std::vector<int>> lcs(n + 1, std::vector<int>(m + 1, 0));
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      lcs[i][j] = want[i] == got[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  std::string out = "--- README.md\n+++ datagate_call\n";
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && want[i] == got[j]) {
      absl::StrAppend(&out, "  ", want[i++], "\n");
      ++j;
    } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      absl::StrAppend(&out, "- ", want[i++], "\n");
    } else {
      absl::StrAppend(&out, "+ ", got[j++], "\n");
    }
  }
  return out;
}

// What a terminal shows: the answer on stdout, grpcurl's errors on stderr.
std::string Shown(const Result& r) { return r.exit_code == 0 ? r.out : r.err + r.out; }

// "" when `result` is what the README shows, else a readable report.
std::string Mismatch(const Step& step, const Result& result) {
  const std::string where = absl::StrCat("README.md:", step.line, ": $ ", step.command, "\n");
  const bool rpc_error = result.exit_code >= 64;
  if (result.exit_code != 0 && !rpc_error) {
    return absl::StrCat(where, "datagate_call failed (exit ", result.exit_code,
                        "), so grpcurl would refuse this command too:\n", result.err, result.out);
  }
  if (step.answer.empty()) {
    return result.exit_code == 0 ? "" : absl::StrCat(where, "no answer is shown, but the call failed:\n", result.err);
  }
  std::vector<std::string> want = step.answer, got;
  const char first = step.answer.front().empty() ? ' ' : step.answer.front()[0];
  if (first == '{' || first == '[') {
    want = CanonicalJsonLines(absl::StrJoin(step.answer, "\n"));
    got = rpc_error ? Lines(Shown(result)) : CanonicalJsonLines(result.out);
  } else {
    got = Lines(Shown(result));
  }
  if (want == got) return "";
  return absl::StrCat(where, "the answer differs (JSON shown with keys sorted and timestamps masked):\n",
                      Diff(want, got));
}

TEST(ReadmeTest, WalkthroughAnswersAreWhatTheGatewaySays) {
  std::vector<std::string> lines = ReadLines(ReadmePath());
  ASSERT_FALSE(lines.empty()) << "cannot read " << ReadmePath();
  std::vector<Step> steps = ParseWalkthrough(lines);
  ASSERT_GE(steps.size(), 20u) << "the walkthrough lost its ```console blocks?";

  server::Options options;  // as deploy/run.sh: example migrations, tenant demo
  options.create_tenants = {"demo"};
  std::unique_ptr<TestServer> server = TestServer::Start(options);
  ASSERT_NE(server, nullptr);
  const std::string address = absl::StrCat("127.0.0.1:", server->server().port());
  // The cloud blocks run on a second gateway with a real PostgreSQL, started
  // when the first of them comes.
  std::unique_ptr<TestServer> cloud_server;
  std::string cloud_address;
  TempDir scratch;
  const char* update_env = std::getenv("DATAGATE_README_UPDATE");
  const bool update = update_env != nullptr && std::string(update_env) == "1";

  // Answers to write back, last step first so earlier line numbers hold.
  std::vector<std::pair<const Step*, std::vector<std::string>>> rewrites;
  for (const Step& step : steps) {
    absl::StatusOr<std::vector<std::string>> words = ShellSplit(step.command);
    ASSERT_TRUE(words.ok()) << "README.md:" << step.line << ": " << words.status().message();
    ASSERT_FALSE(words->empty());
    ASSERT_EQ(words->front(), "grpcurl") << "README.md:" << step.line << ": walkthrough commands are grpcurl calls";
    std::vector<std::string> args(words->begin() + 1, words->end());
    if (step.cloud && cloud_server == nullptr) {
      absl::StatusOr<std::string> url = PgServer::Shared().CreateDatabase("readme");
      ASSERT_TRUE(url.ok()) << url.status();
      server::Options cloud_options = options;
      cloud_options.cloud_url = *url;
      cloud_server = TestServer::Start(cloud_options);
      ASSERT_NE(cloud_server, nullptr);
      cloud_address = absl::StrCat("127.0.0.1:", cloud_server->server().port());
    }
    for (std::string& arg : args) {
      if (arg == "127.0.0.1:50051") arg = step.cloud ? cloud_address : address;
    }
    const Result result = RunCall(args, scratch.path());
    std::string mismatch = Mismatch(step, result);
    const bool client_side_failure = result.exit_code != 0 && result.exit_code < 64;
    // Update mode rewrites every shown answer, not only the changed ones, so
    // that the README stays one coherent run (the same timestamps throughout).
    if (update && !client_side_failure && !step.answer.empty()) {
      rewrites.emplace_back(&step, Lines(Shown(result)));
      mismatch.clear();
    }
    if (!mismatch.empty()) ADD_FAILURE() << mismatch;
  }
  // A run with failures writes nothing: the README would end up half new.
  if (!rewrites.empty() && !::testing::Test::HasFailure()) {
    std::reverse(rewrites.begin(), rewrites.end());
    for (const auto& [step, answer] : rewrites) {
      const auto begin = lines.begin() + step->answer_begin;
      lines.erase(begin, begin + static_cast<long>(step->answer.size()));
      lines.insert(lines.begin() + step->answer_begin, answer.begin(), answer.end());
    }
    std::ofstream(ReadmePath(), std::ios::trunc) << absl::StrJoin(lines, "\n") << "\n";
    std::cout << "README.md: rewrote its " << rewrites.size() << " answers from this run\n";
  }
}

// grpcurl has no .proto files; neither may its stand-in. A datagate
// descriptor compiled in would carry its file name.
TEST(ReadmeTest, DatagateCallHasNoCompiledInDatagateDescriptors) {
  const std::string binary = Slurp(DATAGATE_CALL_BINARY);
  ASSERT_GT(binary.size(), 0u);
  EXPECT_EQ(binary.find("datagate/v1/"), std::string::npos);
}

}  // namespace
}  // namespace datagate::testing
