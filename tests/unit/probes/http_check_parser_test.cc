// The pure parts of the HTTP check: response parsing, Location resolution, and
// Go-style formatting.
#include "probes/http_check_parser.h"
#include "probes/http_check_request.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "probes/dial_check.h"

namespace cubelet::testing {
namespace {

using probes::HttpResponseParser;
using State = probes::HttpResponseParser::State;

struct ParseCase {
  std::string name;
  std::string wire;
  bool closeAtEnd;
  State state;
  int status;
  std::string bodyOrError;
  bool headersDone;
};

// Fed whole and byte by byte, each input must end the same way.
TEST(HttpCheckParserTest, ParsesResponses) {
  const std::vector<ParseCase> cases = {
      {"length", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", false, State::kDone, 200,
       "ok", true},
      {"lf only", "HTTP/1.0 404 Not Found\nContent-Length: 1\n\nx", false, State::kDone, 404, "x",
       true},
      {"until close", "HTTP/1.1 200 OK\r\n\r\nabc", true, State::kDone, 200, "abc", true},
      {"chunked",
       "HTTP/1.1 200 OK\r\ntransfer-encoding: "
       "Chunked\r\n\r\n3\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n",
       false, State::kDone, 200, "abc0123456789", true},
      {"no body for 204", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", false,
       State::kDone, 204, "", true},
      {"100 continue skipped",
       "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", false,
       State::kDone, 201, "", true},
      {"empty", "", true, State::kError, 0, "EOF", false},
      {"cut in headers", "HTTP/1.1 200 OK\r\nContent-", true, State::kError, 200, "unexpected EOF",
       false},
      {"cut in body", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", true, State::kError, 200,
       "unexpected EOF", true},
      {"garbage", "garbage\r\n", false, State::kError, 0,
       "net/http: HTTP/1.x transport connection broken: malformed HTTP response \"garbage\"",
       false},
      {"garbage then close", "\x01\x02", true, State::kError, 0,
       "net/http: HTTP/1.x transport connection broken: malformed HTTP response \"\\x01\\x02\"",
       false},
      {"bad code", "HTTP/1.1 2x0 OK\r\n", false, State::kError, 0,
       "net/http: HTTP/1.x transport connection broken: malformed HTTP status code \"2x0\"", false},
      {"bad version", "HTPT/1.1 200 OK\r\n", false, State::kError, 0,
       "net/http: HTTP/1.x transport connection broken: malformed HTTP version \"HTPT/1.1\"",
       false},
      {"bad header", "HTTP/1.1 200 OK\r\nno colon here\r\n", false, State::kError, 200,
       "net/http: HTTP/1.x transport connection broken: malformed MIME header line: no colon here",
       false},
      {"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, State::kError, 200,
       "bad Content-Length \"-1\"", false},
      {"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false,
       State::kError, 200, "invalid byte in chunk length", true},
  };
  for (const ParseCase& c : cases) {
    for (bool byteByByte : {false, true}) {
      SCOPED_TRACE(c.name + (byteByByte ? " (byte by byte)" : ""));
      HttpResponseParser p;
      if (byteByByte) {
        for (char ch : c.wire) p.feed(std::string(1, ch));
      } else {
        p.feed(c.wire);
      }
      if (c.closeAtEnd) p.finish();
      EXPECT_EQ(p.state(), c.state);
      EXPECT_EQ(p.response().status, c.status);
      EXPECT_EQ(p.headersDone(), c.headersDone);
      EXPECT_EQ(c.state == State::kError ? p.error() : p.response().body, c.bodyOrError);
    }
  }
}

TEST(HttpCheckParserTest, BodyStopsAtTheLimit) {
  HttpResponseParser p(8);
  p.feed("HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n0123456789");
  EXPECT_EQ(p.state(), State::kDone);
  EXPECT_EQ(p.response().body, "01234567");
  EXPECT_TRUE(p.response().truncated);
  EXPECT_EQ(p.response().header("content-length"), "20");
}

TEST(HttpCheckParserTest, ResolvesLocations) {
  probes::HttpUrl base = probes::probeUrl("HTTP", "10.0.0.1", 8080, "/a/b?x=1");
  EXPECT_EQ(base.str(), "http://10.0.0.1:8080/a/b?x=1");
  struct Case {
    std::string location;
    std::string url;
    std::string hostname;
    int port;
  };
  const std::vector<Case> cases = {
      {"/c", "http://10.0.0.1:8080/c", "10.0.0.1", 8080},
      {"c", "http://10.0.0.1:8080/a/c", "10.0.0.1", 8080},
      {"../c?y=2#frag", "http://10.0.0.1:8080/c?y=2", "10.0.0.1", 8080},
      {"?y=2", "http://10.0.0.1:8080/a/b?y=2", "10.0.0.1", 8080},
      {"https://10.0.0.1/s", "https://10.0.0.1/s", "10.0.0.1", 443},
      {"//other:81", "http://other:81/", "other", 81},
      {"HTTP://[fd00::1]:9000/v6", "http://[fd00::1]:9000/v6", "fd00::1", 9000},
      {"ftp://10.0.0.1/f", "ftp://10.0.0.1/f", "10.0.0.1", 80},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.location);
    std::string error;
    auto u = probes::resolveLocation(base, c.location, error);
    ASSERT_TRUE(u) << error;
    EXPECT_EQ(u->str(), c.url);
    EXPECT_EQ(u->hostname, c.hostname);
    EXPECT_EQ(u->port, c.port);
  }
  std::string error;
  EXPECT_FALSE(probes::resolveLocation(base, "http://host:abc/", error));
  EXPECT_EQ(error, "invalid port \":abc\" after host");
}

TEST(HttpCheckParserTest, ProbeUrlAsTheKubeletFormatsIt) {
  EXPECT_EQ(probes::probeUrl("", "::1", 80, "").str(), "http://[::1]:80/");
  EXPECT_EQ(probes::probeUrl("HTTPS", "pod.local", 443, "healthz").str(),
            "https://pod.local:443/healthz");
}

TEST(HttpCheckParserTest, GoFormatting) {
  using std::chrono::milliseconds;
  EXPECT_EQ(probes::goDuration(milliseconds(0)), "0s");
  EXPECT_EQ(probes::goDuration(milliseconds(500)), "500ms");
  EXPECT_EQ(probes::goDuration(milliseconds(1000)), "1s");
  EXPECT_EQ(probes::goDuration(milliseconds(1500)), "1.5s");
  EXPECT_EQ(probes::goDuration(milliseconds(90000)), "1m30s");
  EXPECT_EQ(probes::goDuration(milliseconds(3600000)), "1h0m0s");
  EXPECT_EQ(probes::joinHostPort("fe80::1", 8), "[fe80::1]:8");
  EXPECT_EQ(probes::goQuote("a\"b\n\x7f"), "\"a\\\"b\\n\\x7f\"");
}

}  // namespace
}  // namespace cubelet::testing
