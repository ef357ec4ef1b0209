// audiokit effect host: runs an effect export over a WAV file the way a plugin's process callback
// does (fixed block size, buffers allocated once before the loop), and prints its real-time factor.
//
//   effect_host MODEL.ts|MODEL.pt2 IN.wav OUT.wav [--block N] [--threads T] [--knobs v1,v2,...]
//
// Knob values are normalised 0..1 in the model's knob order (default: the model's defaults).
// MODEL.ts (`audiokit export --format torchscript`) exposes describe() -> (sample_rate, channels,
// chunk, num_knobs, latency), reset(), forward(x (C, N), knobs (K,)). MODEL.pt2 (`--format aoti`)
// is the compiled chunk step (x, knobs, smoothed, *state) -> (y, smoothed, *state) with its layout
// in the package metadata; the state lives here, in tensors allocated once.
// Output: 32-bit float WAV. Exit status 2 on bad input, with a message naming what was expected.
#include <ATen/Parallel.h>
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <torch/script.h>

#include <unistd.h>

#include <cmath>
#include <memory>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct Audio {
  int rate = 0;
  int channels = 0;
  std::vector<float> samples;  // interleaved
  int64_t frames() const { return channels ? static_cast<int64_t>(samples.size()) / channels : 0; }
};

struct BadInput : std::runtime_error {
  using std::runtime_error::runtime_error;
};

uint32_t u32(const unsigned char* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (uint32_t(p[3]) << 24); }
uint16_t u16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

// Reads RIFF/WAVE with PCM 16/24/32-bit or IEEE float 32/64-bit samples (plain or extensible format).
Audio read_wav(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw BadInput("cannot open input '" + path + "'");
  std::vector<unsigned char> data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (data.size() < 12 || std::memcmp(data.data(), "RIFF", 4) || std::memcmp(data.data() + 8, "WAVE", 4))
    throw BadInput("'" + path + "' is not a RIFF/WAVE file");
  int format = 0, bits = 0;
  Audio a;
  size_t pos = 12;
  const unsigned char* pcm = nullptr;
  size_t pcm_size = 0;
  while (pos + 8 <= data.size()) {
    const unsigned char* chunk = data.data() + pos;
    uint32_t size = u32(chunk + 4);
    size_t body = pos + 8;
    if (body + size > data.size()) size = static_cast<uint32_t>(data.size() - body);
    if (!std::memcmp(chunk, "fmt ", 4) && size >= 16) {
      format = u16(chunk + 8);
      a.channels = u16(chunk + 10);
      a.rate = static_cast<int>(u32(chunk + 12));
      bits = u16(chunk + 22);
      if (format == 0xFFFE && size >= 40) format = u16(chunk + 8 + 24);  // extensible: sub-format GUID
    } else if (!std::memcmp(chunk, "data", 4)) {
      pcm = chunk + 8;
      pcm_size = size;
    }
    pos = body + size + (size & 1);
  }
  if (!pcm || a.channels < 1) throw BadInput("'" + path + "' has no fmt or data chunk");
  const int width = bits / 8;
  if (!((format == 1 && (bits == 16 || bits == 24 || bits == 32)) || (format == 3 && (bits == 32 || bits == 64))))
    throw BadInput("'" + path + "': unsupported sample format " + std::to_string(format) + "/" +
                   std::to_string(bits) + " bit (expected PCM 16/24/32 or float 32/64)");
  const size_t n = pcm_size / width;
  a.samples.resize(n - n % a.channels);
  for (size_t i = 0; i < a.samples.size(); ++i) {
    const unsigned char* p = pcm + i * width;
    float v;
    if (format == 3 && bits == 32) { std::memcpy(&v, p, 4); }
    else if (format == 3) { double d; std::memcpy(&d, p, 8); v = static_cast<float>(d); }
    else if (bits == 16) { v = static_cast<int16_t>(u16(p)) / 32768.0f; }
    else if (bits == 24) { int32_t s = (p[0] << 8) | (p[1] << 16) | (p[2] << 24); v = (s >> 8) / 8388608.0f; }
    else { v = static_cast<int32_t>(u32(p)) / 2147483648.0f; }
    a.samples[i] = v;
  }
  return a;
}

void put32(std::ostream& o, uint32_t v) { char b[4] = {char(v), char(v >> 8), char(v >> 16), char(v >> 24)}; o.write(b, 4); }
void put16(std::ostream& o, uint16_t v) { char b[2] = {char(v), char(v >> 8)}; o.write(b, 2); }

// Writes 32-bit float WAV to a temporary name, then renames it: no half-written output.
void write_wav(const std::string& path, const Audio& a) {
  const std::string tmp = path + ".tmp" + std::to_string(static_cast<long long>(::getpid()));
  {
    std::ofstream o(tmp, std::ios::binary);
    if (!o) throw BadInput("cannot write '" + path + "'");
    const uint32_t bytes = static_cast<uint32_t>(a.samples.size() * 4);
    o.write("RIFF", 4); put32(o, 36 + bytes); o.write("WAVE", 4);
    o.write("fmt ", 4); put32(o, 16); put16(o, 3); put16(o, static_cast<uint16_t>(a.channels));
    put32(o, static_cast<uint32_t>(a.rate)); put32(o, static_cast<uint32_t>(a.rate * a.channels * 4));
    put16(o, static_cast<uint16_t>(a.channels * 4)); put16(o, 32);
    o.write("data", 4); put32(o, bytes);
    o.write(reinterpret_cast<const char*>(a.samples.data()), bytes);
    if (!o) { o.close(); std::remove(tmp.c_str()); throw BadInput("failed writing '" + path + "'"); }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw BadInput("cannot rename '" + tmp + "' to '" + path + "'");
}

int64_t parse_int(const std::string& opt, const std::string& text) {
  size_t used = 0;
  int64_t v = 0;
  try { v = std::stoll(text, &used); } catch (...) { used = 0; }
  if (used != text.size() || v <= 0) throw BadInput(opt + ": expected a positive whole number, got '" + text + "'");
  return v;
}

std::vector<float> parse_knobs(const std::string& text) {
  std::vector<float> v;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try { v.push_back(std::stof(item)); }
    catch (...) { throw BadInput("--knobs: '" + item + "' is not a number"); }
  }
  return v;
}

// The two kinds of export behind one interface: describe, reset, process one block in place.
struct Engine {
  int rate = 0, channels = 0;
  int64_t chunk = 0, num_knobs = 0, latency = 0;
  torch::Tensor default_knobs;
  virtual ~Engine() = default;
  virtual void reset() = 0;
  virtual torch::Tensor process(const torch::Tensor& x, const torch::Tensor& knobs) = 0;  // (C, N) -> (C, N)
};

struct ScriptEngine : Engine {
  torch::jit::Module module;
  std::vector<c10::IValue> inputs;
  explicit ScriptEngine(const std::string& path) {
    try { module = torch::jit::load(path); }
    catch (const c10::Error&) { throw BadInput("cannot load '" + path + "' as TorchScript"); }
    auto desc = module.run_method("describe").toTuple()->elements();
    rate = static_cast<int>(desc[0].toInt());
    channels = static_cast<int>(desc[1].toInt());
    chunk = desc[2].toInt();
    num_knobs = desc[3].toInt();
    latency = desc[4].toInt();
    default_knobs = module.attr("default_knobs").toTensor().clone();
    inputs.resize(2);
  }
  void reset() override { module.run_method("reset"); }
  torch::Tensor process(const torch::Tensor& x, const torch::Tensor& knobs) override {
    inputs[0] = x;
    inputs[1] = knobs;
    return module.forward(inputs).toTensor();
  }
};

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, sep)) parts.push_back(item);
  return parts;
}

struct AotiEngine : Engine {
  std::unique_ptr<torch::inductor::AOTIModelPackageLoader> loader;
  std::vector<at::Tensor> inputs;   // [x chunk, knobs, smoothed, state...], allocated once
  std::vector<torch::Tensor> state;
  torch::Tensor smoothed, chunk_in, out;
  explicit AotiEngine(const std::string& path) {
    try { loader = std::make_unique<torch::inductor::AOTIModelPackageLoader>(path); }
    catch (const std::exception&) { throw BadInput("cannot load '" + path + "' as an AOTInductor package"); }
    auto meta = loader->get_metadata();
    for (const char* key : {"sample_rate", "channels", "chunk", "num_knobs", "latency", "default_knobs", "state"})
      if (!meta.count(key)) throw BadInput("'" + path + "' has no '" + key + "' in its metadata (not made by audiokit export)");
    rate = std::stoi(meta["sample_rate"]);
    channels = std::stoi(meta["channels"]);
    chunk = std::stoll(meta["chunk"]);
    num_knobs = std::stoll(meta["num_knobs"]);
    latency = std::stoll(meta["latency"]);
    default_knobs = torch::zeros({num_knobs});
    auto defaults = split(meta["default_knobs"], ',');
    for (int64_t k = 0; k < num_knobs && k < static_cast<int64_t>(defaults.size()); ++k) default_knobs[k] = std::stof(defaults[k]);
    for (const auto& spec : split(meta["state"], ';')) {  // "float32:1x16x120"
      auto parts = split(spec, ':');
      std::vector<int64_t> shape;
      for (const auto& d : split(parts.at(1), 'x')) shape.push_back(std::stoll(d));
      auto dtype = parts.at(0) == "float64" ? torch::kFloat64 : torch::kFloat32;
      state.push_back(torch::zeros(shape, torch::TensorOptions().dtype(dtype)));
    }
    smoothed = torch::full({num_knobs}, NAN);
    chunk_in = torch::zeros({channels, chunk});
    inputs = {chunk_in, default_knobs, smoothed};
    for (auto& s : state) inputs.push_back(s);
  }
  void reset() override {
    for (auto& s : state) s.zero_();
    smoothed.fill_(NAN);
  }
  torch::Tensor process(const torch::Tensor& x, const torch::Tensor& knobs) override {
    if (!out.defined() || out.sizes() != x.sizes()) out = torch::empty_like(x);  // once per block size
    inputs[1] = knobs;
    for (int64_t c = 0; c < x.size(1) / chunk; ++c) {
      chunk_in.copy_(x.narrow(1, c * chunk, chunk));
      auto result = loader->run(inputs);
      // outputs may live in the runner's buffers: copy them into our own state before the next call
      out.narrow(1, c * chunk, chunk).copy_(result[0]);
      smoothed.copy_(result[1]);
      for (size_t i = 0; i < state.size(); ++i) state[i].copy_(result[2 + i]);
    }
    return out;
  }
};

int run(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s MODEL.ts IN.wav OUT.wav [--block N] [--threads T] [--knobs v1,v2,...]\n", argv[0]);
    return 2;
  }
  const std::string model_path = argv[1], in_path = argv[2], out_path = argv[3];
  int64_t block = 0;
  int threads = 1;
  std::vector<float> knob_values;
  bool knobs_given = false;
  for (int i = 4; i < argc; ++i) {
    const std::string opt = argv[i];
    if (i + 1 >= argc) throw BadInput("option " + opt + " needs a value");
    const std::string val = argv[++i];
    if (opt == "--block") block = parse_int(opt, val);
    else if (opt == "--threads") threads = static_cast<int>(parse_int(opt, val));
    else if (opt == "--knobs") { knob_values = parse_knobs(val); knobs_given = true; }
    else throw BadInput("unknown option " + opt + " (expected --block, --threads, --knobs)");
  }
  at::set_num_threads(threads);
  c10::InferenceMode guard;

  std::unique_ptr<Engine> engine;
  if (model_path.size() > 4 && model_path.substr(model_path.size() - 4) == ".pt2")
    engine = std::make_unique<AotiEngine>(model_path);
  else
    engine = std::make_unique<ScriptEngine>(model_path);
  const int rate = engine->rate, channels = engine->channels;
  const int64_t chunk = engine->chunk, num_knobs = engine->num_knobs, latency = engine->latency;
  if (block == 0) block = chunk;
  if (block <= 0 || block % chunk) throw BadInput("--block " + std::to_string(block) + " must be a positive multiple of the model's chunk " + std::to_string(chunk));

  Audio in = read_wav(in_path);
  if (in.rate != rate) throw BadInput("'" + in_path + "' is at " + std::to_string(in.rate) + " Hz; the model runs at " + std::to_string(rate) + " Hz (resample it first)");
  if (in.channels != channels) throw BadInput("'" + in_path + "' has " + std::to_string(in.channels) + " channel(s); the model was exported for " + std::to_string(channels));

  torch::Tensor knobs = engine->default_knobs.clone();
  if (knobs_given) {
    if (static_cast<int64_t>(knob_values.size()) != num_knobs) throw BadInput("--knobs: the model has " + std::to_string(num_knobs) + " knobs, got " + std::to_string(knob_values.size()));
    for (int64_t k = 0; k < num_knobs; ++k) {
      if (!(knob_values[k] >= 0.0f && knob_values[k] <= 1.0f)) throw BadInput("--knobs: value " + std::to_string(k + 1) + " = " + std::to_string(knob_values[k]) + " is outside [0, 1]");
      knobs[k] = knob_values[k];
    }
  }

  // Everything the loop touches is allocated here, once.
  const int64_t frames = in.frames();
  torch::Tensor x = torch::zeros({channels, block});
  float* xp = x.data_ptr<float>();
  Audio out;
  out.rate = rate;
  out.channels = channels;
  out.samples.assign(in.samples.size(), 0.0f);
  // Warm-up: TorchScript's executor profiles and optimises the graph on the first calls; a plugin
  // does this when it is loaded, not in the audio thread. Then start the stream from a clean state.
  for (int i = 0; i < 3; ++i) engine->process(x, knobs);
  engine->reset();

  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t start = 0; start < frames; start += block) {
    const int64_t n = std::min(block, frames - start);
    for (int c = 0; c < channels; ++c)  // de-interleave; zero the tail of a last partial block
      for (int64_t t = 0; t < block; ++t)
        xp[c * block + t] = t < n ? in.samples[(start + t) * channels + c] : 0.0f;
    torch::Tensor y = engine->process(x, knobs);
    const float* yp = y.data_ptr<float>();
    for (int c = 0; c < channels; ++c)
      for (int64_t t = 0; t < n; ++t) out.samples[(start + t) * channels + c] = yp[c * block + t];
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  write_wav(out_path, out);
  const double audio_seconds = static_cast<double>(frames) / rate;
  std::printf("processed %.3f s of audio in %.3f s: %.2fx real time (block %lld, %d thread(s), latency %lld samples)\n",
              audio_seconds, seconds, audio_seconds / seconds, static_cast<long long>(block), threads,
              static_cast<long long>(latency));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const BadInput& e) {
    std::fprintf(stderr, "effect_host: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "effect_host: error: %s\n", e.what());
    return 1;
  }
}
