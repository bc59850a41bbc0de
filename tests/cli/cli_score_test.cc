// `crossrank score`: output format, input order, and one-line errors with exit code 1.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_util.h"

using namespace crossrank::test;
namespace fs = std::filesystem;

namespace {

std::string model() { return test_data("models/tiny-xlmr"); }

std::vector<nlohmann::json> parse_lines(const std::string& s) {
  std::vector<nlohmann::json> out;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

}  // namespace

TEST(CliScore, QueryDocsAndJsonlAgree) {
  if (!fs::exists(model() + "/config.json")) GTEST_SKIP();
  auto r = run_cmd(cli() + " score --model " + model() + " -q 'what is panda?' -d hi -d 'The giant panda is a bear.'");
  ASSERT_EQ(r.code, 0) << r.err;
  auto lines = parse_lines(r.out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["index"], 0);
  EXPECT_EQ(lines[1]["index"], 1);
  TempDir d;
  write_file(d.path / "pairs.jsonl",
             "{\"query\": \"what is panda?\", \"document\": \"hi\"}\n\n"
             "{\"query\": \"what is panda?\", \"document\": \"The giant panda is a bear.\"}\n");
  auto r2 = run_cmd(cli() + " score --model " + model() + " --input " + (d.path / "pairs.jsonl").string() +
                    " --output " + (d.path / "out.jsonl").string());
  ASSERT_EQ(r2.code, 0) << r2.err;
  auto lines2 = parse_lines(read_file(d.path / "out.jsonl"));
  ASSERT_EQ(lines2.size(), 2u);
  EXPECT_DOUBLE_EQ(lines2[0]["score"].get<double>(), lines[0]["score"].get<double>());
  EXPECT_DOUBLE_EQ(lines2[1]["score"].get<double>(), lines[1]["score"].get<double>());
  auto r3 = run_cmd(cli() + " score --normalize --model " + model() + " -q 'what is panda?' -d hi");
  ASSERT_EQ(r3.code, 0);
  const double s = parse_lines(r3.out)[0]["score"];
  EXPECT_NEAR(s, 1.0 / (1.0 + std::exp(-lines[0]["score"].get<double>())), 1e-6);
}

TEST(CliScore, BadInputGivesOneLineErrors) {
  if (!fs::exists(model() + "/config.json")) GTEST_SKIP();
  TempDir d;
  auto expect_error = [&](const std::string& content, const std::string& needle) {
    write_file(d.path / "p.jsonl", content);
    auto r = run_cmd(cli() + " score --model " + model() + " --input " + (d.path / "p.jsonl").string());
    EXPECT_EQ(r.code, 1) << content;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  };
  expect_error("{\"query\": \"a\", \"document\": \"b\"}\n[1, 2]\n", "p.jsonl:2: expected a JSON object");
  expect_error("{\"query\": \"a\"", "p.jsonl:1: not valid JSON");
  expect_error("{\"query\": \"a\", \"document\": 3}\n", "p.jsonl:1: field 'document' must be a string");
  expect_error("{\"query\": \"a\"}\n", "missing field 'document'");
  expect_error("{\"query\": \"\", \"document\": \"b\"}\n", "query is empty");
  expect_error("{\"query\": \"a\", \"document\": \"\"}\n", "document is empty");
  expect_error("{\"query\": \"a\", \"document\": \"\xff\xfe\"}\n", "not valid JSON");  // JSON parser rejects bad UTF-8
  auto r = run_cmd(cli() + " score --model " + model() + " -q a -d \"$(printf '\\377')\"");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("invalid UTF-8 in document"), std::string::npos) << r.err;
  r = run_cmd(cli() + " score --model /nonexistent -q a -d b");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("model folder not found"), std::string::npos);
  r = run_cmd(cli() + " score --model " + model() + " -q a -d b --max-length 100000");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("max_length 100000 outside"), std::string::npos) << r.err;
  r = run_cmd(cli() + " score --model " + model() + " -q a -d b --truncation middle");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("unknown truncation"), std::string::npos);
  r = run_cmd(cli() + " score --model " + model() + " -q a -d b --input /dev/null");  // dropped -q / -d before
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("give either --input or --query"), std::string::npos) << r.err;
  r = run_cmd(cli() + " score --model " + model() + " --input /");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("/: is a directory"), std::string::npos) << r.err;
  r = run_cmd(cli() + " score --model " + model() + " -q a -d b --threads 100000");  // crashed OpenMP before
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("threads must be in [0, 1024]"), std::string::npos) << r.err;
  // The CPU backend's environment knobs refuse values they do not know (they were ignored,
  // or read as 0).
  for (const std::string env : {"CROSSRANK_CPU_ISA=bogus", "CROSSRANK_CPU_ATTN=bogus", "CROSSRANK_CPU_SMOOTH=abc",
                                "CROSSRANK_CPU_PRECISE_POOLED=2", "CROSSRANK_FP32_GEMM=bogus"}) {
    r = run_cmd(env + " " + cli() + " score --model " + model() + " -q a -d b");
    EXPECT_EQ(r.code, 1) << env;
    EXPECT_NE(r.err.find(env.substr(0, env.find('=')) + " must be"), std::string::npos) << env << ": " << r.err;
  }
}

TEST(CliScore, UnknownArchitectureFolder) {
  TempDir d;
  write_file(d.path / "config.json", "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\"}");
  auto r = run_cmd(cli() + " score --model " + d.str() + " -q a -d b");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("unsupported architecture 'LlamaForCausalLM'"), std::string::npos) << r.err;
}
