/* Binary assets linked into the library (see assets/tokenizer/README.md). */
    .section .rodata
    .global vl3_asset_tokenizer_xz_begin
    .global vl3_asset_tokenizer_xz_end
    .balign 16
vl3_asset_tokenizer_xz_begin:
    .incbin "tokenizer/qwen2.5-vl3-tokenizer.json.xz"
vl3_asset_tokenizer_xz_end:
    .byte 0

    .global vl3_asset_tokenizer_config_begin
    .global vl3_asset_tokenizer_config_end
    .balign 16
vl3_asset_tokenizer_config_begin:
    .incbin "tokenizer/tokenizer_config.json"
vl3_asset_tokenizer_config_end:
    .byte 0

    .global vl3_asset_chat_template_begin
    .global vl3_asset_chat_template_end
    .balign 16
vl3_asset_chat_template_begin:
    .incbin "tokenizer/chat_template.json"
vl3_asset_chat_template_end:
    .byte 0
    .section .note.GNU-stack,"",@progbits
