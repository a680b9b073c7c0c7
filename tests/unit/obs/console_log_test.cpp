#include <gtest/gtest.h>

#include "obs/console_log.h"

namespace utt {
namespace {

TEST(ConsoleLog, StepLineHasTheGuidesFormat) {
  const std::string line = format_step_line({100, 3.45671, 45678.4, 123.44, 3e-4, 0.81234});
  EXPECT_EQ(line,
            "Step    100 \u2502 Loss: 3.4567 \u2502 Tokens/sec:    45,678 \u2502 Time:   123.4s "
            "\u2502 LR: 3.00e-04 \u2502 Grad norm: 0.8123");
}

TEST(ConsoleLog, StepLineAddsComputeAndMemoryAfterTheGuidesFields) {
  StepLogLine fields{100, 3.45671, 45678.4, 123.44, 3e-4, 0.81234};
  fields.flops_per_second = 1.5234e11;
  fields.mfu = 0.7312;
  fields.peak_memory_bytes = int64_t{3} << 29;
  EXPECT_EQ(format_step_line(fields),
            "Step    100 \u2502 Loss: 3.4567 \u2502 Tokens/sec:    45,678 \u2502 Time:   123.4s "
            "\u2502 LR: 3.00e-04 \u2502 Grad norm: 0.8123 \u2502 TFLOP/s: 0.152 \u2502 MFU: 73.1% "
            "\u2502 Peak mem: 1.50 GiB");
  fields.mfu = 0;  // no peak known: no MFU field
  EXPECT_EQ(format_step_line(fields).find("MFU"), std::string::npos);
}

TEST(ConsoleLog, ValidationBlockHasTheGuidesLines) {
  const std::string block = format_validation_block(2.89014, 50, "output_ultimate/best_checkpoint");
  EXPECT_NE(block.find("  Validation\n"), std::string::npos);
  EXPECT_NE(block.find("  Validation loss: 2.8901 (50 batches)\n"), std::string::npos);
  EXPECT_NE(block.find("  Perplexity: 18.00\n"), std::string::npos) << block;
  EXPECT_NE(block.find("  \u2713 New best validation loss! Saving to: output_ultimate/best_checkpoint"),
            std::string::npos);
  EXPECT_EQ(format_validation_block(3.0, 5, "").find("New best"), std::string::npos);
}

TEST(ConsoleLog, Durations) {
  EXPECT_EQ(format_duration(12.34), "12.3s");
  EXPECT_EQ(format_duration(245), "4m05s");
  EXPECT_EQ(format_duration(3723), "1h02m03s");
  EXPECT_EQ(format_duration(-1), "?");
}

TEST(ConsoleLog, ProgressBar) {
  const std::string bar = format_progress_bar(300, 1000, 3.21, 83, 10);
  EXPECT_EQ(bar, "[\u2588\u2588\u2588\u2591\u2591\u2591\u2591\u2591\u2591\u2591]  30% step 300/1,000 "
                 "\u2502 loss 3.2100 \u2502 ETA 1m23s");
}

}  // namespace
}  // namespace utt
