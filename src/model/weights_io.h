// Model weights <-> safetensors, under the tensors' own names (model/parameter_layout.h).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "model/parameter_layout.h"
#include "model/transformer.h"

namespace utt {

// Views of a host copy of a layout-ordered buffer (parameters, gradients, optimizer moments),
// one per tensor, named `prefix` + the tensor's name, ready for safetensors::write_file.
// `values` must outlive the views. A prefix lets one file hold several buffers
// ("exp_avg.", "exp_avg_sq.").
std::vector<safetensors::TensorToWrite> tensor_views(const ParameterLayout& layout,
                                                     const std::vector<float>& values,
                                                     const std::string& prefix = "");

// A layout-ordered buffer from a file. Every tensor of the layout must be present with its exact
// shape (F32, F16, BF16 or F64); a missing, misshapen or unexpected tensor is a UserError that
// names it. `what` names the file's role in messages ("model weights", "optimizer state").
// With a prefix, only the tensors named `prefix` + a layout name are read and checked.
std::vector<float> read_layout_buffer(const ParameterLayout& layout, const safetensors::File& file,
                                      const std::string& what, const std::string& prefix = "");

// The model weights in a file, as a host copy in layout order; the file's bytes are released
// before it returns.
std::vector<float> read_weights(const ParameterLayout& layout, const std::string& path);
void load_weights(Transformer& model, const std::string& path);
void save_weights(const Transformer& model, const std::string& path,
                  std::map<std::string, std::string> metadata = {});

}  // namespace utt
