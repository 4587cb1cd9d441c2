// vl3: VideoLLaMA3 in C++. One binary, subcommands; see `vl3 --help` and `vl3 SUBCOMMAND --help`.
#include <c10/util/Exception.h>

#include <cstdio>
#include <iostream>

#include "cli.h"
#include "vl3/error.h"
#include "vl3/runtime.h"

int main(int argc, char** argv) {
  vl3::init_runtime(argc, argv);
  vl3cli::set_program_argv(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // reports reach a pipe or file line by line (bench can run long)
  CLI::App app{"vl3: run, inspect and benchmark VideoLLaMA3 checkpoints (C++ / libtorch)", "vl3"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "vl3 0.1.0");
  vl3cli::register_run(app);
  vl3cli::register_inspect(app);
  vl3cli::register_tokenize(app);
  vl3cli::register_make_model(app);
  vl3cli::register_dump(app);
  vl3cli::register_bench(app);
  vl3cli::register_train(app);
  vl3cli::register_eval(app);
  vl3cli::register_synth(app);
  vl3cli::register_make_tokenizer(app);
  vl3cli::register_eval_table(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const vl3::Error& e) {
    std::cerr << "vl3: error: " << e.what() << "\n";
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "vl3: internal error: " << e.what_without_backtrace() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "vl3: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
