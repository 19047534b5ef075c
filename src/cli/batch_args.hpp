// The two ways to name a batch on the command line: DIR (holding images/ and masks/)
// or --images D --masks D.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "wms/data/validate.hpp"

namespace wms::cli {

struct BatchArgs {
  std::string dir, images, masks;

  void add_to(CLI::App& app) {
    app.add_option("DIR", dir, "batch folder holding images/ and masks/");
    app.add_option("--images", images, "folder of photos (instead of DIR)");
    app.add_option("--masks", masks, "folder of masks (instead of DIR)");
  }
  /// Throws InvalidInput when neither or both forms are given.
  data::BatchSource source() const;
};

}  // namespace wms::cli
