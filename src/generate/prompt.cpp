// From a conversation to the LLM input: chat template, placeholder expansion, tokenization.
#include "vl3/error.h"
#include "vl3/generate.h"

namespace vl3 {

Prompt prepare_prompt(Model& model, const std::vector<Message>& messages, const PromptOptions& opt) {
  for (size_t i = 0; i < messages.size(); ++i)
    for (const auto& part : messages[i].content)
      if (part.type != ContentPart::Type::Text)
        throw Error("messages[" + std::to_string(i) + "] has an image or video part: this build of vl3 reads "
                    "text only (image and video input are not implemented yet)");
  ChatRenderOptions chat = opt.chat;
  chat.image_token = model.tokenizer.id_to_token(model.config.image_token_index);
  Prompt p;
  p.text = render_chat(messages, chat);
  p.ids = model.tokenizer.encode(p.text, /*parse_special=*/true);
  return p;
}

}  // namespace vl3
