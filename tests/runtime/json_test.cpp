// weir/json.hpp: every string comes out as valid UTF-8 JSON, whole.
#include <gtest/gtest.h>

#include <weir/json.hpp>

namespace weir {
namespace {

using namespace std::string_literals;

std::string json(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

TEST(Json, ValidUtf8IsWrittenAsIs) {
  EXPECT_EQ(json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x97 \xf4\x8f\xbf\xbf"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x97 \xf4\x8f\xbf\xbf\"");
}

TEST(Json, ControlCharactersAndNulAreEscapedAndNothingIsCut) {
  EXPECT_EQ(json("a\0b\x01\x1f\"\\\n\r\t\x7f"s), R"("a\u0000b\u0001\u001f\"\\\n\r\t)"s + "\x7f\"");
}

// The bytes between escapes are copied in runs: none lost or doubled at a run's ends.
TEST(Json, PlainRunsAroundEscapesAreKeptWhole) {
  EXPECT_EQ(json(""), R"("")");
  EXPECT_EQ(json("O0010"), R"("O0010")");
  EXPECT_EQ(json("say \"hi\" to C:\\dir\n"), R"("say \"hi\" to C:\\dir\n")");
  EXPECT_EQ(json("\"x\""), R"("\"x\"")");  // escapes at both ends
  EXPECT_EQ(json("\t\tab\xc3\xa9" "cd\x01"), "\"\\t\\tab\xc3\xa9" "cd\\u0001\"");
}

// Each byte outside a valid sequence is \u00XX of its value.
TEST(Json, BytesThatAreNotUtf8AreEscapedOneByOne) {
  EXPECT_EQ(json("\xff\xfe"), R"("\u00ff\u00fe")");
  EXPECT_EQ(json("\x80x\xbf"), R"("\u0080x\u00bf")");                    // lone continuation bytes
  EXPECT_EQ(json("\xc3"), R"("\u00c3")");                                // cut at the end
  EXPECT_EQ(json("\xe2\x82,"), R"("\u00e2\u0082,")");                    // cut before an ASCII byte
  EXPECT_EQ(json("\xc0\xaf\xe0\x80\xaf"), R"("\u00c0\u00af\u00e0\u0080\u00af")");  // overlong '/'
  EXPECT_EQ(json("\xed\xa0\x80"), R"("\u00ed\u00a0\u0080")");            // the surrogate U+D800
  EXPECT_EQ(json("\xf4\x90\x80\x80\xf8"), R"("\u00f4\u0090\u0080\u0080\u00f8")");  // above U+10FFFF; F8
  EXPECT_EQ(json("\xc3\xa9\xff\xc3\xa9"), "\"\xc3\xa9\\u00ff\xc3\xa9\"");  // the valid ones around stay
}

TEST(Json, ValidUtf8AndBase64) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("a\0\xc3\xa9\xef\xbf\xbf"s));
  EXPECT_FALSE(valid_utf8("\xed\xbf\xbf"));
  EXPECT_FALSE(valid_utf8("\xf0\x8f\xbf\xbf"));
  std::string b64;
  for (std::string_view s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) append_base64(b64 += '|', s);
  EXPECT_EQ(b64, "||Zg==|Zm8=|Zm9v|Zm9vYg==|Zm9vYmE=|Zm9vYmFy");  // RFC 4648's test vectors
  b64.clear();
  append_base64(b64, "\xff\x00\xfe"s);
  EXPECT_EQ(b64, "/wD+");
}

}  // namespace
}  // namespace weir
