#include "wms/nn/model.hpp"
#include "cli/command.hpp"

namespace wms::cli {

namespace {

struct ImportArgs {
  std::string pth;
  std::string bundle;
  nn::ModelConfig c;
};
struct ExportArgs {
  std::string bundle;
  std::string pth;
};
struct ShowArgs {
  std::string bundle;
};

}  // namespace

void add_model(CLI::App& root, Globals& g, Commands& out) {
  auto* model = root.add_subcommand("model", "model files: import/export PyTorch state_dicts, show a bundle");
  model->require_subcommand(1);
  {
    auto* app = model->add_subcommand("import",
                                      "a PyTorch state_dict (.pth, e.g. the original's production.pth) "
                                      "-> a wms model bundle");
    auto a = std::make_shared<ImportArgs>();
    app->add_option("FILE", a->pth,
                    ".pth saved by torch.save(model.state_dict()), or a training checkpoint with a 'model_state_dict' "
                    "(keys of nn.DataParallel are taken too); anything else exits 3 saying what it found")
        ->required();
    app->add_option("--out,-o", a->bundle, "bundle to write")->required();
    app->add_option("--base-filters", a->c.base_filters, "the model's base filters")->capture_default_str();
    app->add_option("--input-size", a->c.input_size, "input size the model was trained at")->capture_default_str();
    app->add_option("--threshold", a->c.threshold, "probability threshold")->capture_default_str();
    add_common_options(*app, g);
    out.push_back(
        {app, [a, &g] {
           auto m = nn::Model::import_state_dict(a->pth, a->c);
           m.save(a->bundle);
           if (g.json)
             print_json({{"bundle", a->bundle}, {"parameters", m.parameter_count()}, {"info", m.info().to_json()}});
           else
             std::printf("imported %s (%lld parameters) -> %s\n", a->pth.c_str(),
                         static_cast<long long>(m.parameter_count()), a->bundle.c_str());
           if (!g.json && m.info().params.contains("imported_note"))
             std::printf("note: %s\n", m.info().params["imported_note"].get<std::string>().c_str());
           return kExitOk;
         }});
  }
  {
    auto* app =
        model->add_subcommand("export", "a wms model bundle -> a PyTorch state_dict (.pth) for WaterMetersUNet");
    auto a = std::make_shared<ExportArgs>();
    app->add_option("BUNDLE", a->bundle, "model bundle")->required();
    app->add_option("--out,-o", a->pth, ".pth file to write")->required();
    add_common_options(*app, g);
    out.push_back({app, [a, &g] {
                     nn::Model::load(a->bundle).export_state_dict(a->pth);
                     if (g.json)
                       print_json({{"pth", a->pth}});
                     else
                       std::printf("exported %s -> %s (torch.load + load_state_dict)\n", a->bundle.c_str(),
                                   a->pth.c_str());
                     return kExitOk;
                   }});
  }
  {
    auto* app = model->add_subcommand("show", "a bundle's metadata: architecture, input size, metrics, params");
    auto a = std::make_shared<ShowArgs>();
    app->add_option("BUNDLE", a->bundle, "model bundle")->required();
    add_common_options(*app, g);
    out.push_back({app, [a, &g] {
                     auto m = nn::Model::load(a->bundle);
                     auto j = m.info().to_json();
                     j["parameters"] = m.parameter_count();
                     print_json(j);
                     return kExitOk;
                   }});
  }
}

}  // namespace wms::cli
