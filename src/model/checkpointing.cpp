#include "model/checkpointing.h"

namespace vl3 {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct BlockHolder : torch::CustomClassHolder {
  explicit BlockHolder(Block f) : fn(std::move(f)) {}
  Block fn;
};

struct CheckpointFunction : public torch::autograd::Function<CheckpointFunction> {
  // Runs without recording (custom-function forwards run in no-grad mode); keeps x and the block.
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor x, c10::intrusive_ptr<BlockHolder> block) {
    ctx->save_for_backward({x});
    ctx->saved_data["block"] = c10::IValue::make_capsule(block);
    return block->fn(x);
  }

  // Recomputes the block with recording on and back-propagates through it: parameter gradients accumulate
  // as in a normal backward, the input's gradient is returned to the outer graph.
  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    auto x = ctx->get_saved_variables()[0].detach().requires_grad_(true);
    auto block = ctx->saved_data["block"].toCapsule();
    auto* holder = static_cast<BlockHolder*>(block.get());
    torch::Tensor y;
    {
      torch::AutoGradMode enable(true);
      y = holder->fn(x);
    }
    torch::autograd::backward({y}, {grad_out[0]});
    return {x.grad(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor checkpointed(const Block& fn, const torch::Tensor& x) {
  // Nothing to save when no gradient flows through x (a frozen prefix): run it plainly.
  if (!torch::GradMode::is_enabled() || !x.requires_grad()) return fn(x);
  return CheckpointFunction::apply(x, c10::make_intrusive<BlockHolder>(fn));
}

}  // namespace vl3
