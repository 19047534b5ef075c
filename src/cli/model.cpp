#include "cli/command.hpp"
#include "wms/nn/model.hpp"

namespace wms::cli {

void add_model(CLI::App& root, Globals& g, Commands& out) {
  auto* model = root.add_subcommand("model", "model files: import/export PyTorch state_dicts, show a bundle");
  model->require_subcommand(1);
  {
    auto* app = model->add_subcommand("import", "a PyTorch state_dict (.pth, e.g. the original's production.pth) "
                                                "-> a wms model bundle");
    static std::string pth, bundle;
    static nn::ModelConfig c;
    app->add_option("FILE", pth,
                    ".pth saved by torch.save(model.state_dict()), or a training checkpoint with a 'model_state_dict' "
                    "(keys of nn.DataParallel are taken too); anything else exits 3 saying what it found")
        ->required();
    app->add_option("--out,-o", bundle, "bundle to write")->required();
    app->add_option("--base-filters", c.base_filters, "the model's base filters")->capture_default_str();
    app->add_option("--input-size", c.input_size, "input size the model was trained at")->capture_default_str();
    app->add_option("--threshold", c.threshold, "probability threshold")->capture_default_str();
    add_common_options(*app, g);
    out.push_back({app, [&g] {
      auto m = nn::Model::import_state_dict(pth, c);
      m.save(bundle);
      if (g.json) print_json({{"bundle", bundle}, {"parameters", m.parameter_count()}, {"info", m.info().to_json()}});
      else std::printf("imported %s (%lld parameters) -> %s\n", pth.c_str(), static_cast<long long>(m.parameter_count()), bundle.c_str());
      if (!g.json && m.info().params.contains("imported_note"))
        std::printf("note: %s\n", m.info().params["imported_note"].get<std::string>().c_str());
      return kExitOk;
    }});
  }
  {
    auto* app = model->add_subcommand("export", "a wms model bundle -> a PyTorch state_dict (.pth) for WaterMetersUNet");
    static std::string bundle, pth;
    app->add_option("BUNDLE", bundle, "model bundle")->required();
    app->add_option("--out,-o", pth, ".pth file to write")->required();
    add_common_options(*app, g);
    out.push_back({app, [&g] {
      nn::Model::load(bundle).export_state_dict(pth);
      if (g.json) print_json({{"pth", pth}});
      else std::printf("exported %s -> %s (torch.load + load_state_dict)\n", bundle.c_str(), pth.c_str());
      return kExitOk;
    }});
  }
  {
    auto* app = model->add_subcommand("show", "a bundle's metadata: architecture, input size, metrics, params");
    static std::string bundle;
    app->add_option("BUNDLE", bundle, "model bundle")->required();
    add_common_options(*app, g);
    out.push_back({app, [&g] {
      auto m = nn::Model::load(bundle);
      auto j = m.info().to_json();
      j["parameters"] = m.parameter_count();
      print_json(j);
      return kExitOk;
    }});
  }
}

}  // namespace wms::cli
