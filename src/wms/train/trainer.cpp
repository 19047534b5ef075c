#include "wms/train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <tuple>

#include "wms/nn/autocast.hpp"
#include "wms/nn/losses.hpp"
#include "wms/nn/metrics.hpp"
#include "wms/nn/model_impl.hpp"
#include "wms/nn/pth.hpp"
#include "wms/train/cache.hpp"
#include "wms/train/loader.hpp"
#include "wms/train/runtime.hpp"
#include "wms/util/error.hpp"
#include "wms/util/progress.hpp"

namespace wms::train {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

void set_lr(torch::optim::Adam& opt, double lr, std::optional<double> beta1 = std::nullopt) {
  for (auto& g : opt.param_groups()) {
    auto& o = static_cast<torch::optim::AdamOptions&>(g.options());
    o.lr(lr);
    if (beta1) o.betas({*beta1, std::get<1>(o.betas())});
  }
}

// The learning rate for the per-step schedules (PyTorch's OneCycleLR with cosine
// annealing, div_factor 25, final_div_factor 1e4, beta1 cycled 0.95 <-> 0.85; or
// linear warm-up then cosine decay to min_lr), as a function of the fraction of the
// schedule done. With a fixed plan that fraction is step / (total - 1), as PyTorch's
// OneCycleLR (its last step is at the final rate). A time
// budget re-plans `total` (replan()): the fraction done is kept and the rest of the
// schedule is spread over the steps now left, so the rate never jumps or rises again
// after its peak, and warm-up, peak and annealing all fit inside the run.
struct StepSchedule {
  const TrainOptions& o;
  long total;       // steps planned for the whole run
  long from = 0;    // the step of the last re-plan
  double done = 0;  // the fraction done at that step
  static double cos_anneal(double a, double b, double t) { return b + (a - b) * (1 + std::cos(M_PI * t)) / 2; }
  double fraction(long step) const {
    return std::min(1.0, done + (1 - done) * static_cast<double>(step - from) / std::max(1L, total - 1 - from));
  }
  void replan(long step, long new_total) {
    done = fraction(step);
    from = step;
    total = std::max(new_total, step + 1);
  }
  std::pair<double, std::optional<double>> at(long step) const {
    const double p = fraction(step);
    const double warm = std::max(1.0, o.warmup_fraction * total) / total;  // as a fraction
    if (o.scheduler == Scheduler::kOneCycle) {
      double peak = o.learning_rate, start = peak / 25, end = start / 1e4;
      if (p < warm) return {cos_anneal(start, peak, p / warm), cos_anneal(0.95, 0.85, p / warm)};
      double t = (p - warm) / std::max(1e-12, 1 - warm);
      return {cos_anneal(peak, end, std::min(1.0, t)), cos_anneal(0.85, 0.95, std::min(1.0, t))};
    }
    if (p < warm) return {o.learning_rate * (p * (total - 1) + 1) / (warm * total), std::nullopt};
    double t = (p - warm) / std::max(1e-12, 1 - warm);
    return {cos_anneal(o.learning_rate, o.min_lr, std::min(1.0, t)), std::nullopt};
  }
};

// ReduceLROnPlateau(mode=min, threshold=1e-4 rel, cooldown 0), as PyTorch.
struct Plateau {
  double factor, min_lr;
  int patience;
  double best = INFINITY;
  int bad = 0;
  double step(double metric, double lr) {
    if (metric < best * (1 - 1e-4)) {
      best = metric;
      bad = 0;
    } else if (++bad > patience) {
      bad = 0;
      double next = std::max(lr * factor, min_lr);
      if (lr - next > 1e-8) return next;
    }
    return lr;
  }
};

torch::Tensor to_device(Batch& b, bool target, const torch::Device& device, bool channels_last) {
  auto t = target ? torch::from_blob(b.y.data(), {b.n, 1, b.size, b.size})
                  : torch::from_blob(b.x.data(), {b.n, 3, b.size, b.size});
  t = t.to(device);
  if (channels_last && !target) t = t.contiguous(torch::MemoryFormat::ChannelsLast);
  return t;
}

struct ValResult {
  double loss = 0, dice = 0, iou = 0;
};

// The network's logits (n x 1 x size x size, fp32) for whole cached photos at the input
// size, no augmentation; `each` sees every chunk's batch and logits. Eval mode.
void forward_whole(nn::UNetImpl& net, const std::vector<const CachedSample*>& items, int size,
                   const torch::Device& device, bool channels_last, bool bf16,
                   const std::function<void(std::size_t first, Batch& b, const torch::Tensor& logits)>& each) {
  net.eval();
  torch::NoGradGuard no_grad;
  const std::size_t chunk = 8;
  for (std::size_t start = 0; start < items.size(); start += chunk) {
    std::vector<const CachedSample*> group(items.begin() + start, items.begin() + std::min(items.size(), start + chunk));
    Batch b = make_batch(group, size, nullptr, 0);
    auto x = to_device(b, false, device, channels_last);
    torch::Tensor logits;
    {
      nn::Bf16Autocast mixed(bf16);
      logits = net.forward(x).to(torch::kFloat32);
    }
    each(start, b, logits);
  }
}

ValResult validate(nn::UNetImpl& net, const std::vector<const CachedSample*>& items, int size,
                   const torch::Device& device, bool channels_last, bool bf16, const nn::LossOptions& loss_options) {
  ValResult r;
  if (items.empty()) return r;
  std::vector<nn::MaskScores> scores;
  forward_whole(net, items, size, device, channels_last, bf16, [&](std::size_t first, Batch& b, const torch::Tensor& logits) {
    auto y = to_device(b, true, device, false);
    r.loss += nn::segmentation_loss(logits, y, loss_options).item<double>() * b.n;
    auto pred = (logits > 0).to(torch::kUInt8).to(torch::kCPU).contiguous();
    for (int i = 0; i < b.n; ++i) {
      cv::Mat p(size, size, CV_8UC1, pred.data_ptr<std::uint8_t>() + static_cast<std::size_t>(i) * size * size);
      scores.push_back(nn::score_masks(p, items[first + i]->mask, false));
    }
  });
  auto m = nn::mean_scores(scores);
  r.loss /= static_cast<double>(items.size());
  r.dice = m.dice;
  r.iou = m.iou;
  return r;
}

// Hard negatives (training.hard_negatives): each training photo's mask gets the
// regions the model, as trained so far, predicts above 0.5 on the whole photo (at the
// input size, no augmentation) away from its window (mark_hard_negatives). Masks are
// updated in place; returns {regions found now, photos with any}.
std::pair<int, int> mine_hard_negatives(nn::UNetImpl& net, std::vector<CachedSample>& mined, int size,
                                        const torch::Device& device, bool channels_last, bool bf16) {
  std::vector<const CachedSample*> items;
  for (const auto& m : mined) items.push_back(&m);
  int regions = 0, photos = 0;
  forward_whole(net, items, size, device, channels_last, bf16, [&](std::size_t first, Batch& b, const torch::Tensor& logits) {
    auto pred = (logits > 0).to(torch::kUInt8).to(torch::kCPU).contiguous();
    for (int i = 0; i < b.n; ++i) {
      cv::Mat p(size, size, CV_8UC1, pred.data_ptr<std::uint8_t>() + static_cast<std::size_t>(i) * size * size);
      const int found = mark_hard_negatives(p, mined[first + i].mask);
      regions += found;
      photos += found > 0;
    }
  });
  return {regions, photos};
}

// The model a run starts from: fresh weights (with the final bias at the training
// foreground share's logit when asked), or a copy of the warm-start model.
nn::Model initial_model(const TrainOptions& o, const nn::Model* init,
                        const std::vector<const CachedSample*>& train_items) {
  nn::Model model = init ? init->clone() : nn::Model(o.model, o.seed);
  if (init && (init->info().config.base_filters != o.model.base_filters ||
               init->info().config.in_channels != o.model.in_channels))
    throw InvalidInput("warm start: the model has base_filters {} but the options ask for {}",
                       init->info().config.base_filters, o.model.base_filters);
  model.info().config = o.model;
  model.info().seed = o.seed;
  model.info().params = to_json(o);
  if (o.foreground_prior_bias && !init) {
    double fg = 0;
    for (auto* c : train_items) fg += cv::countNonZero(c->mask) / static_cast<double>(c->mask.total());
    double p = std::clamp(fg / train_items.size(), 1e-4, 0.5);
    torch::NoGradGuard no_grad;
    model.impl().net->final->bias.fill_(std::log(p / (1 - p)));
  }
  return model;
}

struct StepContext {
  nn::UNetImpl& net;
  torch::optim::Adam& opt;
  BatchLoader& loader;
  const torch::Device& device;
  const TrainOptions& o;
  bool bf16;
  const nn::LossOptions& loss_options;
};

// One pass over the training batches; `before_step` sets the step's learning rate.
// Returns the mean training loss; `seen` is the number of photos.
double run_epoch(const StepContext& c, int epoch, util::Progress& progress, std::size_t& seen,
                 const std::function<bool()>& should_stop, const std::function<void()>& before_step) {
  auto epoch_start = Clock::now();
  double loss_sum = 0;
  while (auto b = c.loader.next()) {
    if (should_stop && should_stop()) throw Cancelled("training interrupted at epoch {}", epoch);
    before_step();
    auto x = to_device(*b, false, c.device, c.o.channels_last);
    auto y = to_device(*b, true, c.device, false);
    c.opt.zero_grad();
    torch::Tensor logits;
    {
      nn::Bf16Autocast mixed(c.bf16);
      logits = c.net.forward(x).to(torch::kFloat32);
    }
    auto loss = nn::segmentation_loss(logits, y, c.loss_options);
    loss.backward();
    c.opt.step();
    loss_sum += loss.item<double>() * b->n;
    seen += b->n;
    progress.set_note(fmt::format("loss {:.4f}  {:.1f} img/s", loss_sum / seen, seen / since(epoch_start)));
    progress.tick();
  }
  return loss_sum / static_cast<double>(seen);
}

// The epochs that fit the time budget, from the median epoch time so far (one epoch
// slowed by a neighbour does not cut the run short), never more than asked for.
int epochs_that_fit(const std::vector<EpochMetrics>& history, const TrainOptions& o, double elapsed, int epoch) {
  std::vector<double> times;
  for (const auto& h : history) times.push_back(h.seconds);
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  double per_epoch = times[times.size() / 2];
  double left = o.time_budget_minutes * 60 - elapsed;
  return std::clamp(epoch + static_cast<int>(std::floor(left / per_epoch)), epoch, o.epochs);
}

}  // namespace

TrainResult train_model(const std::vector<Sample>& train, const std::vector<Sample>& val, const TrainOptions& options,
                        MetricsSink* sink, const std::function<bool()>& should_stop, const nn::Model* init) {
  if (train.empty()) throw InvalidInput("training needs at least one sample in the train split");
  TrainOptions o = options;
  if (init && o.warm_epochs > 0) o.epochs = o.warm_epochs;
  if (init && o.warm_learning_rate > 0) o.learning_rate = o.warm_learning_rate;
  const auto start = Clock::now();
  SampleCache cache;
  set_compute_threads(o.threads);
  const Device resolved = resolve_device(o.device);
  torch::Device device(resolved == Device::kCuda ? torch::kCUDA : torch::kCPU);
  const bool bf16 = resolve_precision(o.precision, resolved) == Precision::kBf16;
  const int size = o.model.input_size;

  cache.add(train, size, o.threads);
  cache.add(val, size, o.threads);
  std::vector<const CachedSample*> train_items, val_items;
  for (const auto& s : train) train_items.push_back(&cache.get(s, size));
  // select: last trains on the validation photos too and validates nothing.
  for (const auto& s : val) (o.select == Select::kLast ? train_items : val_items).push_back(&cache.get(s, size));

  nn::Model model = initial_model(o, init, train_items);
  nn::UNetImpl& net = *model.impl().net;
  net.to(device);
  if (o.channels_last) {
    torch::NoGradGuard no_grad;
    for (auto& p : net.parameters())
      if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
  }

  torch::optim::Adam opt(net.parameters(), torch::optim::AdamOptions(o.learning_rate).weight_decay(o.weight_decay));
  nn::LossOptions loss_options{kLossNames.name(o.loss), o.dice_weight};
  BatchLoader loader(train_items, size, o.batch_size, o.augment, o.seed,
                     CropOptions{o.crop_size, o.crop_foreground, o.hard_negatives});
  // Hard negatives are mined into copies of the training masks (the photos shared).
  std::vector<CachedSample> mined;
  std::vector<double> mine_at;  // fractions of the planned run, in order
  if (o.hard_negatives > 0) mine_at = {0.4, 0.7};
  const long steps_per_epoch = static_cast<long>((train_items.size() + o.batch_size - 1) / o.batch_size);
  StepSchedule schedule{o, steps_per_epoch * o.epochs};  // re-planned with `planned`
  Plateau plateau{o.plateau_factor, o.min_lr, o.plateau_patience};
  double lr = o.learning_rate;
  if (o.scheduler != Scheduler::kPlateau) {
    auto [l, b1] = schedule.at(0);
    lr = l;
    set_lr(opt, lr, b1);
  }

  TrainResult result;
  nn::NamedTensors best_state;
  double best_metric = o.select == Select::kValDice ? -INFINITY : INFINITY;
  int since_best = 0;
  long step = 0;
  result.stop_reason = "epochs";
  int planned = o.epochs;  // re-planned to fit a time budget, and the schedule with it
  for (int epoch = 1; epoch <= planned; ++epoch) {
    auto epoch_start = Clock::now();
    net.train();
    int batches = loader.start_epoch(epoch);
    util::Progress progress(fmt::format("epoch {}/{}", epoch, o.epochs), static_cast<std::size_t>(batches));
    std::size_t seen = 0;
    double train_loss =
        run_epoch({net, opt, loader, device, o, bf16, loss_options}, epoch, progress, seen, should_stop, [&] {
          if (o.scheduler == Scheduler::kPlateau) return;
          auto [l, b1] = schedule.at(step++);
          lr = l;
          set_lr(opt, lr, b1);
        });
    double train_seconds = since(epoch_start);
    ValResult v = validate(net, val_items, size, device, o.channels_last, bf16, loss_options);  // none: zeros
    EpochMetrics m;
    m.epoch = epoch;
    m.train_loss = train_loss;
    m.val_loss = v.loss;
    m.val_dice = v.dice;
    m.val_iou = v.iou;
    m.learning_rate = lr;
    m.seconds = since(epoch_start);
    m.images_per_second = seen / train_seconds;
    m.validated = !val_items.empty();
    if (!mine_at.empty() && schedule.fraction(step) >= mine_at.front() && epoch < planned) {
      while (!mine_at.empty() && schedule.fraction(step) >= mine_at.front()) mine_at.erase(mine_at.begin());
      if (mined.empty())
        for (const auto* c : train_items) mined.push_back({c->photo, c->mask.clone()});
      std::tie(m.hard_negative_regions, m.hard_negative_photos) =
          mine_hard_negatives(net, mined, size, device, o.channels_last, bf16);
      std::vector<const CachedSample*> items;
      for (const auto& c : mined) items.push_back(&c);
      loader.set_items(std::move(items));
      m.seconds = since(epoch_start);
    }
    result.history.push_back(m);
    if (sink) sink->epoch(m);
    if (o.scheduler == Scheduler::kPlateau && !val_items.empty()) {
      lr = plateau.step(v.loss, lr);
      set_lr(opt, lr);
    }
    double metric = o.select == Select::kValDice ? v.dice : v.loss;
    bool better = val_items.empty() || (o.select == Select::kValDice ? metric > best_metric : metric < best_metric);
    if (better) {
      best_metric = metric;
      since_best = 0;
      result.best_epoch = epoch;
      best_state.clear();
      for (auto& [name, t] : nn::state_tensors(net)) best_state.emplace_back(name, t.detach().clone());
    } else {
      ++since_best;
    }
    if (o.early_stopping_patience > 0 && since_best >= o.early_stopping_patience) {
      result.stop_reason = "early_stopping";
      break;
    }
    if (o.time_budget_minutes > 0) {
      int fit = epochs_that_fit(result.history, o, since(start), epoch);
      if (fit != planned) {
        planned = fit;
        schedule.replan(step, steps_per_epoch * planned);
      }
      result.stop_reason = planned < o.epochs ? "time_budget" : "epochs";
    }
  }
  nn::load_state(net, best_state, "best epoch");
  net.to(torch::kCPU);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : net.parameters()) p.set_data(p.contiguous());
  }
  net.eval();
  const auto& best = result.history[result.best_epoch - 1];
  model.info().metrics = {{"best_epoch", result.best_epoch}, {"epochs_run", result.history.size()}};
  if (best.validated)
    model.info().metrics.update({{"val_loss", best.val_loss}, {"val_dice", best.val_dice}, {"val_iou", best.val_iou}});
  result.seconds = since(start);
  result.model = model;
  return result;
}

}  // namespace wms::train
