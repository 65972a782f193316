#include "proxy/quorum/consistency.h"

#include <gtest/gtest.h>

#include <optional>
#include <string_view>

namespace shoal::proxy {
namespace {

constexpr Consistency kLevels[] = {Consistency::kOne, Consistency::kQuorum, Consistency::kAll};

TEST(ConsistencyTest, RequiredReplicas) {
  struct Row {
    int n, one, quorum, all;
  };
  for (const Row& row :
       {Row{1, 1, 1, 1}, Row{2, 1, 2, 2}, Row{3, 1, 2, 3}, Row{4, 1, 3, 4}, Row{5, 1, 3, 5}}) {
    EXPECT_EQ(RequiredReplicas(Consistency::kOne, row.n), row.one) << row.n;
    EXPECT_EQ(RequiredReplicas(Consistency::kQuorum, row.n), row.quorum) << row.n;
    EXPECT_EQ(RequiredReplicas(Consistency::kAll, row.n), row.all) << row.n;
  }
  for (Consistency level : kLevels) EXPECT_EQ(RequiredReplicas(level, 0), 1);
}

TEST(ConsistencyTest, QuorumReadsAndWritesOverlap) {
  for (int n = 1; n <= 8; ++n) {
    const int q = RequiredReplicas(Consistency::kQuorum, n);
    EXPECT_GT(q + q, n) << n;
    EXPECT_GT(RequiredReplicas(Consistency::kOne, n) + RequiredReplicas(Consistency::kAll, n), n);
  }
}

TEST(ConsistencyTest, ParseAnyCase) {
  EXPECT_EQ(ParseConsistency("one"), Consistency::kOne);
  EXPECT_EQ(ParseConsistency("ONE"), Consistency::kOne);
  EXPECT_EQ(ParseConsistency("oNe"), Consistency::kOne);
  EXPECT_EQ(ParseConsistency("quorum"), Consistency::kQuorum);
  EXPECT_EQ(ParseConsistency("QUORUM"), Consistency::kQuorum);
  EXPECT_EQ(ParseConsistency("Quorum"), Consistency::kQuorum);
  EXPECT_EQ(ParseConsistency("all"), Consistency::kAll);
  EXPECT_EQ(ParseConsistency("ALL"), Consistency::kAll);
}

TEST(ConsistencyTest, ParseRefusesOthers) {
  using namespace std::string_view_literals;
  for (std::string_view text : {""sv, "on"sv, "ones"sv, "two"sv, "quoru"sv, "quorums"sv, " all"sv,
                                "all "sv, "al"sv, "ALLL"sv, "1"sv, "majority"sv, "one\0"sv}) {
    EXPECT_EQ(ParseConsistency(text), std::nullopt) << "'" << text << "'";
  }
}

TEST(ConsistencyTest, NameRoundTrip) {
  EXPECT_EQ(ConsistencyName(Consistency::kOne), "ONE");
  EXPECT_EQ(ConsistencyName(Consistency::kQuorum), "QUORUM");
  EXPECT_EQ(ConsistencyName(Consistency::kAll), "ALL");
  for (Consistency level : kLevels) {
    EXPECT_EQ(ParseConsistency(ConsistencyName(level)), level);
  }
}

}  // namespace
}  // namespace shoal::proxy
