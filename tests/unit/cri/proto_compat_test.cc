// Wire compatibility of cri/proto/api.proto with the runtime.v1 API that the
// installed containerd serves. containerd (Go, gogo-protobuf) embeds the
// gzipped FileDescriptorProto of the api.proto it was built from; we find it in
// the binary and compare every message, field, enum value and RPC that both
// declare: same numbers, types and labels. Fields newer than that containerd
// are allowed; a name or number used differently is not.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cri/proto/api.pb.h"
#include "google/protobuf/descriptor.pb.h"

namespace cri {
namespace {

using google::protobuf::DescriptorProto;
using google::protobuf::EnumDescriptorProto;
using google::protobuf::FileDescriptorProto;

constexpr char kContainerd[] = "/usr/bin/containerd";

// Inflates the gzip stream starting at `data`, up to `limit` bytes of output.
std::optional<std::string> gunzip(const char* data, size_t size, size_t limit) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return std::nullopt;
  std::string out(limit, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
  zs.avail_in = static_cast<uInt>(std::min<size_t>(size, 1 << 30));
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(limit);
  int rc = inflate(&zs, Z_FINISH);
  size_t produced = zs.total_out;
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) return std::nullopt;
  out.resize(produced);
  return out;
}

// The runtime.v1 api.proto descriptor embedded in the containerd binary.
std::optional<FileDescriptorProto> containerdDescriptor() {
  std::ifstream in(kContainerd, std::ios::binary);
  std::string bin((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string magic("\x1f\x8b\x08\x00\x00\x00\x00\x00", 8);
  for (size_t pos = bin.find(magic); pos != std::string::npos; pos = bin.find(magic, pos + 1)) {
    auto raw = gunzip(bin.data() + pos, bin.size() - pos, 1 << 20);
    if (!raw || raw->find("runtime.v1") == std::string::npos) continue;
    FileDescriptorProto file;
    if (file.ParseFromString(*raw) && file.package() == "runtime.v1" && file.service_size() > 0) {
      return file;
    }
  }
  return std::nullopt;
}

struct Index {
  std::map<std::string, const DescriptorProto*> messages;
  std::map<std::string, const EnumDescriptorProto*> enums;
};

void indexMessage(const DescriptorProto& m, const std::string& prefix, Index* idx) {
  std::string name = prefix + m.name();
  idx->messages[name] = &m;
  for (const auto& nested : m.nested_type()) indexMessage(nested, name + ".", idx);
  for (const auto& e : m.enum_type()) idx->enums[name + "." + e.name()] = &e;
}

Index indexFile(const FileDescriptorProto& file) {
  Index idx;
  for (const auto& m : file.message_type()) indexMessage(m, "", &idx);
  for (const auto& e : file.enum_type()) idx.enums[e.name()] = &e;
  return idx;
}

TEST(ProtoCompatTest, MatchesTheRuntimeV1ThatContainerdServes) {
  std::optional<FileDescriptorProto> upstream = containerdDescriptor();
  ASSERT_TRUE(upstream.has_value()) << "no runtime.v1 descriptor found in " << kContainerd;
  FileDescriptorProto ours;
  runtime::v1::VersionRequest::descriptor()->file()->CopyTo(&ours);
  ASSERT_EQ(ours.package(), "runtime.v1");

  Index up = indexFile(*upstream);
  Index mine = indexFile(ours);
  int fieldsCompared = 0;
  for (const auto& [name, msg] : mine.messages) {
    auto it = up.messages.find(name);
    if (it == up.messages.end()) continue;  // newer than this containerd
    for (const auto& f : msg->field()) {
      for (const auto& u : it->second->field()) {
        if (u.name() != f.name() && u.number() != f.number()) continue;
        SCOPED_TRACE(name + "." + f.name());
        EXPECT_EQ(u.name(), f.name());
        EXPECT_EQ(u.number(), f.number());
        EXPECT_EQ(u.type(), f.type());
        EXPECT_EQ(u.label(), f.label());
        EXPECT_EQ(u.type_name(), f.type_name());
        ++fieldsCompared;
      }
    }
  }
  for (const auto& [name, e] : mine.enums) {
    auto it = up.enums.find(name);
    if (it == up.enums.end()) continue;
    for (const auto& v : e->value()) {
      for (const auto& u : it->second->value()) {
        if (u.name() == v.name()) {
          EXPECT_EQ(u.number(), v.number()) << name << "." << v.name();
        }
      }
    }
  }
  for (const auto& service : ours.service()) {
    for (const auto& upService : upstream->service()) {
      if (upService.name() != service.name()) continue;
      for (const auto& method : service.method()) {
        bool found = false;
        for (const auto& u : upService.method()) {
          if (u.name() != method.name()) continue;
          found = true;
          EXPECT_EQ(u.input_type(), method.input_type()) << method.name();
          EXPECT_EQ(u.output_type(), method.output_type()) << method.name();
          EXPECT_EQ(u.client_streaming(), method.client_streaming()) << method.name();
          EXPECT_EQ(u.server_streaming(), method.server_streaming()) << method.name();
        }
        EXPECT_TRUE(found) << service.name() << "/" << method.name() << " not served";
      }
    }
  }
  // Guards against a vacuous pass (e.g. the wrong descriptor found).
  EXPECT_GT(fieldsCompared, 300);
}

}  // namespace
}  // namespace cri
