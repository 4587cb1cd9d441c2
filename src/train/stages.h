// Stage settings -> which parameters train, with which learning rate; shared by the trainer and dump.
#pragma once
#include <string>
#include <vector>

#include "train/optimizer.h"
#include "train/sample.h"
#include "vl3/train.h"

namespace vl3 {

class VideoLlama3Impl;

enum class TrainModule { LLM, Projector, Vision };
// Which module a parameter belongs to, from its HF name (either checkpoint layout).
TrainModule module_of(const std::string& name);

// Sets requires_grad on every parameter (false for modules whose lr <= 0) and returns the AdamW groups
// (per module, split into decay / no-decay: biases and the vision LayerNorms get no weight decay).
std::vector<ParamGroup> make_param_groups(VideoLlama3Impl& net, const TrainOptions& opt);

SampleOptions sample_options(const TrainOptions& opt);

}  // namespace vl3
