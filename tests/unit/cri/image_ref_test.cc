// Image reference parsing and normalization, checked against what docker's
// reference library and the kubelet make of the same strings.
#include "cri/image_ref.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace cri {
namespace {

struct NormalizeCase {
  std::string input;
  std::string domain, path, tag, digest;
  std::string normalized;
};

constexpr char kSha[] = "sha256:4e1b1f6fb3f4c1e07e4b23c0a4e7f1c6cbb1b6c2e0f5f1f5e1c6b0a7d3e2f1a0";

void PrintTo(const NormalizeCase& c, std::ostream* os) { *os << '"' << c.input << '"'; }

class NormalizeTest : public ::testing::TestWithParam<NormalizeCase> {};

TEST_P(NormalizeTest, ParsesAndNormalizes) {
  const NormalizeCase& c = GetParam();
  auto ref = parseImageRef(c.input);
  ASSERT_TRUE(ref.ok()) << c.input << ": " << ref.status();
  EXPECT_EQ(ref->domain, c.domain) << c.input;
  EXPECT_EQ(ref->path, c.path) << c.input;
  EXPECT_EQ(ref->tag, c.tag) << c.input;
  EXPECT_EQ(ref->digest, c.digest) << c.input;
  EXPECT_EQ(ref->normalized(), c.normalized) << c.input;
  // Normalizing is idempotent.
  auto again = parseImageRef(ref->normalized());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *ref);
}

INSTANTIATE_TEST_SUITE_P(
    Table, NormalizeTest,
    ::testing::Values(
        NormalizeCase{"busybox", "docker.io", "library/busybox", "latest", "",
                      "docker.io/library/busybox:latest"},
        NormalizeCase{"busybox:1.35", "docker.io", "library/busybox", "1.35", "",
                      "docker.io/library/busybox:1.35"},
        NormalizeCase{"foo/bar:1", "docker.io", "foo/bar", "1", "", "docker.io/foo/bar:1"},
        NormalizeCase{"foo/bar/baz", "docker.io", "foo/bar/baz", "latest", "",
                      "docker.io/foo/bar/baz:latest"},
        NormalizeCase{"docker.io/busybox", "docker.io", "library/busybox", "latest", "",
                      "docker.io/library/busybox:latest"},
        NormalizeCase{"index.docker.io/foo/bar", "docker.io", "foo/bar", "latest", "",
                      "docker.io/foo/bar:latest"},
        NormalizeCase{"localhost/x/y:1", "localhost", "x/y", "1", "", "localhost/x/y:1"},
        NormalizeCase{"localhost/cubelet/pause:3.9", "localhost", "cubelet/pause", "3.9", "",
                      "localhost/cubelet/pause:3.9"},
        NormalizeCase{"localhost:5000/x", "localhost:5000", "x", "latest", "",
                      "localhost:5000/x:latest"},
        NormalizeCase{"registry:5000/x", "registry:5000", "x", "latest", "",
                      "registry:5000/x:latest"},
        NormalizeCase{"registry.k8s.io/pause:3.9", "registry.k8s.io", "pause", "3.9", "",
                      "registry.k8s.io/pause:3.9"},
        NormalizeCase{"Registry.Example.com/a/b", "Registry.Example.com", "a/b", "latest", "",
                      "Registry.Example.com/a/b:latest"},
        NormalizeCase{"[::1]:5000/img:v1", "[::1]:5000", "img", "v1", "", "[::1]:5000/img:v1"},
        NormalizeCase{"10.0.0.1:5000/a_b/c-d.e__f---g:V1_x.y-z", "10.0.0.1:5000",
                      "a_b/c-d.e__f---g", "V1_x.y-z", "",
                      "10.0.0.1:5000/a_b/c-d.e__f---g:V1_x.y-z"},
        NormalizeCase{std::string("busybox@") + kSha, "docker.io", "library/busybox", "", kSha,
                      std::string("docker.io/library/busybox@") + kSha},
        NormalizeCase{std::string("quay.io/a/b:1.0@") + kSha, "quay.io", "a/b", "1.0", kSha,
                      std::string("quay.io/a/b:1.0@") + kSha},
        // A single component is always a docker.io library name, port-like tag or not.
        NormalizeCase{"localhost:5000", "docker.io", "library/localhost", "5000", "",
                      "docker.io/library/localhost:5000"}));

struct InvalidCase {
  std::string input;
  std::string wantInMessage;
};

void PrintTo(const InvalidCase& c, std::ostream* os) { *os << '"' << c.input << '"'; }

class InvalidTest : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidTest, RejectsWithClearError) {
  const InvalidCase& c = GetParam();
  auto ref = parseImageRef(c.input);
  ASSERT_FALSE(ref.ok()) << c.input << " parsed as " << ref->normalized();
  EXPECT_EQ(ref.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(ref.status().message().find("invalid image reference \"" + c.input + "\""),
            std::string::npos)
      << ref.status();
  EXPECT_NE(ref.status().message().find(c.wantInMessage), std::string::npos) << ref.status();
}

INSTANTIATE_TEST_SUITE_P(
    Table, InvalidTest,
    ::testing::Values(
        InvalidCase{"", "empty"}, InvalidCase{"Busybox", "must be lowercase"},
        InvalidCase{"foo/Bar:1", "must be lowercase"},
        InvalidCase{"example.com/Foo", "must be lowercase"}, InvalidCase{"busybox:", "invalid tag"},
        InvalidCase{"busybox:-x", "invalid tag"},
        InvalidCase{"busybox:" + std::string(129, 'a'), "invalid tag"},
        InvalidCase{"foo/busybox:a/b", "invalid tag \"a/b\""},
        InvalidCase{"foo//bar", "empty path component"},
        InvalidCase{"foo/", "empty path component"},
        InvalidCase{"-foo/bar", "path component \"-foo\""},
        InvalidCase{"foo/bar_", "path component \"bar_\""},
        InvalidCase{"foo/a...b", "path component"}, InvalidCase{"foo/a___b", "path component"},
        InvalidCase{"foo bar", "path component"},
        InvalidCase{"exa_mple.com/x", "registry host \"exa_mple.com\""},
        InvalidCase{"example.com:/x", "registry host"},
        InvalidCase{"example.com:50a/x", "registry host"},
        InvalidCase{"busybox@sha256:abc", "64 lowercase hex"},
        InvalidCase{std::string("busybox@sha256:") + std::string(64, 'A'), "64 lowercase hex"},
        InvalidCase{std::string("busybox@md5:") + std::string(32, 'a'), "unsupported digest"},
        InvalidCase{"busybox@", "digest"}, InvalidCase{std::string(64, 'a'), "hex image id"},
        InvalidCase{"example.com/" + std::string(250, 'a'), "longer than 255"}));

struct PolicyCase {
  std::string image;
  bool always;
};

void PrintTo(const PolicyCase& c, std::ostream* os) { *os << '"' << c.image << '"'; }

class PullPolicyTest : public ::testing::TestWithParam<PolicyCase> {};

TEST_P(PullPolicyTest, MatchesKubeletDefaulting) {
  EXPECT_EQ(hasLatestOrNoTag(GetParam().image), GetParam().always) << GetParam().image;
}

INSTANTIATE_TEST_SUITE_P(
    Table, PullPolicyTest,
    ::testing::Values(PolicyCase{"busybox", true}, PolicyCase{"busybox:latest", true},
                      PolicyCase{"registry:5000/x", true}, PolicyCase{"busybox:1.35", false},
                      PolicyCase{"localhost/cubelet/busybox:1.35", false},
                      PolicyCase{std::string("busybox@") + kSha, false},
                      // The kubelet reads the tag alone: an explicit latest wins.
                      PolicyCase{std::string("busybox:latest@") + kSha, true},
                      // Unparsable: the kubelet ignores the error and picks IfNotPresent.
                      PolicyCase{"Busybox", false}, PolicyCase{"", false}));

}  // namespace
}  // namespace cri
