#include <gtest/gtest.h>

#include "config/presets.h"
#include "util/error.h"

namespace utt {
namespace {

TEST(Presets, HaveTheGuidesExactDimensions) {
  struct Row {
    const char* name;
    int64_t d_model, layers, heads, d_ff;
  };
  const Row guide[] = {{"nano", 128, 6, 4, 512},      {"tiny", 256, 8, 8, 1024},
                       {"small", 512, 12, 8, 2048},   {"medium", 768, 12, 12, 3072},
                       {"large", 1024, 24, 16, 4096}, {"xlarge", 1280, 32, 20, 5120}};
  ASSERT_EQ(model_presets().size(), std::size(guide));
  for (const Row& row : guide) {
    const ModelPreset& preset = find_preset(row.name);
    EXPECT_EQ(preset.d_model, row.d_model) << row.name;
    EXPECT_EQ(preset.num_layers, row.layers) << row.name;
    EXPECT_EQ(preset.num_heads, row.heads) << row.name;
    EXPECT_EQ(preset.d_ff, row.d_ff) << row.name;
  }
}

TEST(Presets, UnknownNameSuggestsTheClosest) {
  try {
    find_preset("smal");
    FAIL() << "expected UserError";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("did you mean small"), std::string::npos) << error.what();
  }
}

TEST(Presets, NamesAreCaseInsensitive) { EXPECT_EQ(find_preset("Tiny").name, "tiny"); }

}  // namespace
}  // namespace utt
