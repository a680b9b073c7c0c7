#include "export/export_formats.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "export/gguf_writer.h"
#include "export/hf_layout.h"
#include "export/hf_writer.h"
#include "export/host_model.h"
#include "util/error.h"
#include "util/text.h"

namespace utt {

std::vector<std::string> parse_export_formats(const std::string& list) {
  std::vector<std::string> formats;
  std::string part;
  for (char c : list + ",") {
    if (c != ',') {
      if (c != ' ') part += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      continue;
    }
    if (part.empty()) continue;
    if (part != "hf" && part != "gguf") {
      throw UserError("unknown --export format '" + part + "': use hf, gguf or hf,gguf");
    }
    if (std::find(formats.begin(), formats.end(), part) == formats.end()) formats.push_back(part);
    part.clear();
  }
  if (formats.empty()) throw UserError("--export needs a format: hf, gguf or hf,gguf");
  return formats;
}

void check_exportable(const ModelConfig& model, const std::vector<std::string>& formats) {
  for (const std::string& format : formats) {
    try {
      export_architecture(model, format);
    } catch (const UserError& error) {
      throw UserError("--export " + format + ": " + error.what());
    }
  }
}

void export_trained_model(const std::filesystem::path& checkpoint, const std::filesystem::path& output_dir,
                          const std::vector<std::string>& formats) {
  const HostModel model = load_model_dir(checkpoint, "--export");
  for (const std::string& format : formats) {
    if (format == "hf") {
      write_hf_folder(model, output_dir / "export_hf", ExportDtype::kF32);
      fmt::print("Exported {} as a Hugging Face folder: {}\n", checkpoint.string(), (output_dir / "export_hf").string());
    } else {
      write_gguf(model, output_dir / "model.gguf", ExportDtype::kF32);
      fmt::print("Exported {} as GGUF for llama.cpp: {}\n", checkpoint.string(), (output_dir / "model.gguf").string());
    }
  }
}

}  // namespace utt
