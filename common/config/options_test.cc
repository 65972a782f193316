#include "common/config/options.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

namespace shoal {
namespace {

// ---- ParseSize ----------------------------------------------------------------------------------

TEST(ParseSizeTest, PlainAndSuffixedSizes) {
  const std::pair<const char*, uint64_t> cases[] = {
      {"1024", 1024},          {"0", 0},
      {"100b", 100},           {"512k", 512ull << 10},
      {"512kb", 512ull << 10}, {"64mb", 64ull << 20},
      {"64m", 64ull << 20},    {"64MB", 64ull << 20},
      {"2gb", 2ull << 30},     {"2G", 2ull << 30},
      {"1t", 1ull << 40},      {"1.5g", 1536ull << 20},
      {"0.5k", 512},           {" 8 mb ", 8ull << 20},
  };
  for (const auto& [text, want] : cases) {
    auto got = ParseSize(text);
    ASSERT_TRUE(got.ok()) << text << ": " << got.status().ToString();
    EXPECT_EQ(*got, want) << text;
  }
}

TEST(ParseSizeTest, RejectsBadSizes) {
  for (const char* text : {"", "  ", "12qb", "-1", "mb", "b", "k", "1.2.3", ".", "1e3", "0x10",
                           "12 qb", "+5", "64mbb", "1p", "\xff\xfe", "99999999999t"}) {
    auto got = ParseSize(text);
    EXPECT_FALSE(got.ok()) << "'" << text << "' parsed as " << (got.ok() ? *got : 0);
    if (!got.ok()) {
      EXPECT_EQ(got.status().code(), Status::Code::kInvalidArgument) << text;
    }
  }
}

TEST(ParseSizeTest, ErrorQuotesTheInput) {
  auto got = ParseSize("12qb");
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("12qb"), std::string::npos) << got.status().ToString();
}

// ---- ParseHostPort ------------------------------------------------------------------------------

TEST(ParseHostPortTest, GoodAddresses) {
  struct Case {
    const char* text;
    const char* host;
    uint16_t port;
  };
  const Case cases[] = {
      {"127.0.0.1:6379", "127.0.0.1", 6379},
      {"localhost:0", "localhost", 0},
      {"node-a.shoal.svc:65535", "node-a.shoal.svc", 65535},
      {"[::1]:7000", "::1", 7000},
      {"[fe80::1%eth0]:80", "fe80::1%eth0", 80},
  };
  for (const Case& c : cases) {
    auto hp = ParseHostPort(c.text);
    ASSERT_TRUE(hp.ok()) << c.text << ": " << hp.status().ToString();
    EXPECT_EQ(hp->host, c.host);
    EXPECT_EQ(hp->port, c.port);
    // ToString gives back the text (brackets around IPv6 hosts).
    EXPECT_EQ(hp->ToString(), c.text);
  }
}

TEST(ParseHostPortTest, BadAddresses) {
  for (const char* text : {"", "host", "host:", ":80", "host:65536", "host:-1", "host:80x",
                           "host:abc", "host: 80", "[::1]", "[]:80", "[::1:80", "a]:80", ":"}) {
    auto hp = ParseHostPort(text);
    EXPECT_FALSE(hp.ok()) << "'" << text << "' parsed as " << (hp.ok() ? hp->ToString() : "");
    if (!hp.ok()) {
      EXPECT_EQ(hp.status().code(), Status::Code::kInvalidArgument);
      EXPECT_NE(hp.status().message().find(text), std::string::npos) << hp.status().ToString();
    }
  }
}

// ---- Options ------------------------------------------------------------------------------------

struct Config {
  std::string listen = "127.0.0.1:7000";
  int64_t threads = 2;
  uint64_t max_memory = 1ull << 30;
  bool verbose = false;
  std::string seeds;
};

class OptionsTest : public ::testing::Test {
 protected:
  OptionsTest() {
    opts_.AddString("listen", &cfg_.listen, "HOST:PORT of the node protocol");
    opts_.AddInt("threads", &cfg_.threads, "shard threads");
    opts_.AddSize("max-memory", &cfg_.max_memory, "memory limit, e.g. 64mb");
    opts_.AddBool("verbose", &cfg_.verbose, "log more");
    opts_.AddString("seeds", &cfg_.seeds, "comma-separated seed nodes");
  }

  ~OptionsTest() override {
    for (const auto& f : files_) std::filesystem::remove(f);
  }

  Status Parse(std::initializer_list<std::string> args) {
    args_ = {"shoal-test"};
    args_.insert(args_.end(), args.begin(), args.end());
    argv_.clear();
    for (const auto& a : args_) argv_.push_back(a.c_str());
    return opts_.Parse(static_cast<int>(argv_.size()), argv_.data());
  }

  std::string WriteYaml(const std::string& text) {
    const auto path = std::filesystem::path(::testing::TempDir()) /
                      ("options_test_" + std::to_string(files_.size()) + ".yaml");
    std::ofstream(path) << text;
    files_.push_back(path.string());
    return path.string();
  }

  Config cfg_;
  Options opts_{"shoal-test", "options under test"};

 private:
  std::vector<std::string> args_;
  std::vector<const char*> argv_;
  std::vector<std::string> files_;
};

// Expects a failed status whose message contains `needle`.
void ExpectError(const Status& s, const std::string& needle) {
  EXPECT_FALSE(s.ok()) << "expected an error mentioning '" << needle << "'";
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find(needle), std::string::npos) << s.ToString();
}

TEST_F(OptionsTest, DefaultsStayWithoutArguments) {
  ASSERT_TRUE(Parse({}).ok());
  EXPECT_EQ(cfg_.listen, "127.0.0.1:7000");
  EXPECT_EQ(cfg_.threads, 2);
  EXPECT_EQ(cfg_.max_memory, 1ull << 30);
  EXPECT_FALSE(cfg_.verbose);
  EXPECT_FALSE(opts_.help_requested());
  EXPECT_FALSE(opts_.check_config_requested());
}

TEST_F(OptionsTest, FlagsWithEqualsOrSeparateValue) {
  ASSERT_TRUE(Parse({"--listen=0.0.0.0:7001", "--threads", "8", "--max-memory", "64mb"}).ok());
  EXPECT_EQ(cfg_.listen, "0.0.0.0:7001");
  EXPECT_EQ(cfg_.threads, 8);
  EXPECT_EQ(cfg_.max_memory, 64ull << 20);
  ASSERT_TRUE(Parse({"--threads=-3", "--listen", "h:1"}).ok());
  EXPECT_EQ(cfg_.threads, -3);
  EXPECT_EQ(cfg_.listen, "h:1");
}

TEST_F(OptionsTest, ValueMayContainEqualsSigns) {
  ASSERT_TRUE(Parse({"--seeds=a=h:1,b=h:2"}).ok());
  EXPECT_EQ(cfg_.seeds, "a=h:1,b=h:2");
}

TEST_F(OptionsTest, UnderscoresInFlagNames) {
  ASSERT_TRUE(Parse({"--max_memory=2k"}).ok());
  EXPECT_EQ(cfg_.max_memory, 2048u);
}

TEST_F(OptionsTest, BoolFlagAloneMeansTrue) {
  ASSERT_TRUE(Parse({"--verbose"}).ok());
  EXPECT_TRUE(cfg_.verbose);
}

TEST_F(OptionsTest, BoolFlagTakesAnExplicitValue) {
  cfg_.verbose = true;
  ASSERT_TRUE(Parse({"--verbose=false"}).ok());
  EXPECT_FALSE(cfg_.verbose);
  ASSERT_TRUE(Parse({"--verbose", "on"}).ok());
  EXPECT_TRUE(cfg_.verbose);
  ASSERT_TRUE(Parse({"--verbose", "no"}).ok());
  EXPECT_FALSE(cfg_.verbose);
  EXPECT_TRUE(opts_.positional().empty()) << "the bool's value was taken as a positional";
  ASSERT_TRUE(Parse({"--verbose=YES"}).ok());
  EXPECT_TRUE(cfg_.verbose);
}

TEST_F(OptionsTest, BoolFlagDoesNotSwallowTheNextArgument) {
  ASSERT_TRUE(Parse({"--verbose", "--threads", "4", "extra"}).ok());
  EXPECT_TRUE(cfg_.verbose);
  EXPECT_EQ(cfg_.threads, 4);
  cfg_.verbose = false;
  ASSERT_TRUE(Parse({"--verbose", "data.txt"}).ok());
  EXPECT_TRUE(cfg_.verbose);
  EXPECT_EQ(opts_.positional().back(), "data.txt");
}

TEST_F(OptionsTest, BadBoolNamesTheFlag) { ExpectError(Parse({"--verbose=maybe"}), "verbose"); }

TEST_F(OptionsTest, UnknownFlagIsNamed) {
  ExpectError(Parse({"--threads=2", "--no-such-flag=1"}), "no-such-flag");
}

TEST_F(OptionsTest, BadIntegerNamesTheOption) {
  ExpectError(Parse({"--threads=many"}), "threads");
  ExpectError(Parse({"--threads", "12x"}), "threads");
  ExpectError(Parse({"--threads="}), "threads");
  ExpectError(Parse({"--threads=99999999999999999999"}), "threads");
}

TEST_F(OptionsTest, BadSizeNamesTheOption) {
  const Status s = Parse({"--max-memory=12qb"});
  ExpectError(s, "max-memory");
  ExpectError(s, "12qb");
}

TEST_F(OptionsTest, MissingValueIsAnError) { ExpectError(Parse({"--listen"}), "listen"); }

TEST_F(OptionsTest, PositionalArgumentsAreCollected) {
  ASSERT_TRUE(Parse({"get", "--threads", "3", "mykey", "-x"}).ok());
  EXPECT_EQ(opts_.positional(), (std::vector<std::string>{"get", "mykey", "-x"}));
  EXPECT_EQ(cfg_.threads, 3);
}

TEST_F(OptionsTest, HelpAndCheckConfig) {
  ASSERT_TRUE(Parse({"--help", "--check-config"}).ok());
  EXPECT_TRUE(opts_.help_requested());
  EXPECT_TRUE(opts_.check_config_requested());
  const std::string usage = opts_.Usage();
  EXPECT_NE(usage.find("--max-memory VALUE"), std::string::npos) << usage;
  EXPECT_NE(usage.find("memory limit, e.g. 64mb (default: 1073741824)"), std::string::npos)
      << usage;
  EXPECT_NE(usage.find("--verbose "), std::string::npos) << usage;
  EXPECT_EQ(usage.find("--verbose VALUE"), std::string::npos) << usage;
}

TEST_F(OptionsTest, YamlFileSetsOptions) {
  const std::string path = WriteYaml(
      "listen: 10.0.0.1:7000\n"
      "threads: 6\n"
      "max_memory: 2gb\n"
      "verbose: true\n");
  ASSERT_TRUE(Parse({"--config", path}).ok());
  EXPECT_EQ(cfg_.listen, "10.0.0.1:7000");
  EXPECT_EQ(cfg_.threads, 6);
  EXPECT_EQ(cfg_.max_memory, 2ull << 30);
  EXPECT_TRUE(cfg_.verbose);
}

TEST_F(OptionsTest, FlagsOverrideTheFileWhateverTheirOrder) {
  const std::string path = WriteYaml(
      "listen: 10.0.0.1:7000\n"
      "threads: 6\n"
      "max-memory: 2gb\n");
  ASSERT_TRUE(Parse({"--threads=8", "--config", path, "--max-memory", "64mb"}).ok());
  EXPECT_EQ(cfg_.threads, 8);
  EXPECT_EQ(cfg_.max_memory, 64ull << 20);
  EXPECT_EQ(cfg_.listen, "10.0.0.1:7000");  // only in the file
  ASSERT_TRUE(Parse({"--config=" + path}).ok());
  EXPECT_EQ(cfg_.threads, 6);
}

TEST_F(OptionsTest, YamlListsJoinWithCommas) {
  const std::string flow = WriteYaml("seeds: [a=10.0.0.1:7000, b=10.0.0.2:7000]\n");
  ASSERT_TRUE(Parse({"--config", flow}).ok());
  EXPECT_EQ(cfg_.seeds, "a=10.0.0.1:7000,b=10.0.0.2:7000");
  const std::string block = WriteYaml(
      "seeds:\n"
      "  - n1:1\n"
      "  - n2:2\n"
      "  - n3:3\n");
  ASSERT_TRUE(Parse({"--config", block}).ok());
  EXPECT_EQ(cfg_.seeds, "n1:1,n2:2,n3:3");
}

TEST_F(OptionsTest, UnknownYamlKeyIsNamedWithTheFile) {
  const std::string path = WriteYaml("threads: 4\nmax_memroy: 1gb\n");
  const Status s = Parse({"--config", path});
  ExpectError(s, "max_memroy");
  ExpectError(s, path);
}

TEST_F(OptionsTest, BadYamlValueNamesTheOption) {
  ExpectError(Parse({"--config", WriteYaml("threads: lots\n")}), "threads");
  ExpectError(Parse({"--config", WriteYaml("max_memory: 12qb\n")}), "max-memory");
  ExpectError(Parse({"--config", WriteYaml("verbose: perhaps\n")}), "verbose");
}

TEST_F(OptionsTest, YamlMustBeAFlatMap) {
  ExpectError(Parse({"--config", WriteYaml("listen:\n  host: a\n  port: 1\n")}), "listen");
  ExpectError(Parse({"--config", WriteYaml("seeds: [[a, b]]\n")}), "seeds");
  EXPECT_FALSE(Parse({"--config", WriteYaml("- a\n- b\n")}).ok());
  EXPECT_FALSE(Parse({"--config", WriteYaml("listen: [unclosed\n")}).ok());
}

TEST_F(OptionsTest, YamlKeysMustBeScalars) {
  // Complex keys are valid YAML; they must be refused with the file named, not abort the process.
  const std::string seq_key = WriteYaml("? [a, b]\n: 1\n");
  ExpectError(Parse({"--config", seq_key}), seq_key);
  ExpectError(Parse({"--config", seq_key}), "option names");
  const std::string map_key = WriteYaml("{threads: 1}: 2\n");
  ExpectError(Parse({"--config", map_key}), map_key);
  ExpectError(opts_.LoadYamlString("? [a, b]\n: 1\n", "inline"), "inline");
  // Null keys are not option names either.
  EXPECT_FALSE(opts_.LoadYamlString("? \n: 1\n", "inline").ok());
  EXPECT_EQ(cfg_.threads, 2);
}

TEST_F(OptionsTest, EmptyYamlFileChangesNothing) {
  ASSERT_TRUE(Parse({"--config", WriteYaml("")}).ok());
  ASSERT_TRUE(Parse({"--config", WriteYaml("# only a comment\n")}).ok());
  EXPECT_EQ(cfg_.threads, 2);
}

TEST_F(OptionsTest, MissingConfigFile) {
  const Status s = Parse({"--config", "/nonexistent/shoal.yaml"});
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_NE(s.message().find("/nonexistent/shoal.yaml"), std::string::npos) << s.ToString();
  ExpectError(Parse({"--config"}), "--config");
}

TEST_F(OptionsTest, LoadYamlStringAndSet) {
  ASSERT_TRUE(opts_.LoadYamlString("threads: 12\nseeds: [x, y]\n").ok());
  EXPECT_EQ(cfg_.threads, 12);
  EXPECT_EQ(cfg_.seeds, "x,y");
  ASSERT_TRUE(opts_.Set("max_memory", "1k", "test").ok());
  EXPECT_EQ(cfg_.max_memory, 1024u);
  const Status s = opts_.Set("bogus", "1", "reload");
  ExpectError(s, "bogus");
  ExpectError(s, "reload");
}

// ---- Values (the effective configuration) ------------------------------------------------------

TEST(OptionsValuesTest, ReportsCurrentValuesAndMasksSecrets) {
  std::string listen = "127.0.0.1:6379", password, empty_secret;
  int64_t threads = 2;
  uint64_t memory = 1024;
  bool flag = false;
  Options o("prog", "test");
  o.AddString("listen", &listen, "address");
  o.AddInt("threads", &threads, "threads");
  o.AddSize("max-memory", &memory, "memory");
  o.AddBool("flag", &flag, "flag");
  o.AddString("requirepass", &password, "password");
  o.AddString("other-secret", &empty_secret, "secret");
  o.MarkSecret("requirepass");
  o.MarkSecret("other_secret");  // '_' or '-', as everywhere
  const char* argv[] = {"prog",   "--threads",     "4",      "--max-memory", "2kb",
                        "--flag", "--requirepass", "hunter2"};
  ASSERT_TRUE(o.Parse(8, argv).ok());
  EXPECT_EQ(o.config_path(), "");
  const std::vector<std::pair<std::string, std::string>> want = {
      {"listen", "127.0.0.1:6379"}, {"threads", "4"},    {"max-memory", "2048"}, {"flag", "true"},
      {"requirepass", "<set>"},     {"other-secret", ""}};
  EXPECT_EQ(o.Values(), want);
}

TEST(OptionsValuesTest, RemembersTheConfigPath) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "shoal_options_values_test.yaml").string();
  std::ofstream(path) << "listen: 10.0.0.1:1\n";
  std::string listen;
  Options o("prog", "test");
  o.AddString("listen", &listen, "address");
  const std::string arg = "--config=" + path;
  const char* argv[] = {"prog", arg.c_str()};
  ASSERT_TRUE(o.Parse(2, argv).ok());
  EXPECT_EQ(o.config_path(), path);
  EXPECT_EQ(listen, "10.0.0.1:1");
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace shoal
