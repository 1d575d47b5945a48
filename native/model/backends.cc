// Backends by name: what `backend: "cpu" | "cuda"` selects.
#include "cuda/driver.h"
#include "model/backend.h"

std::string backend_unavailable(const std::string& name) {
  if (name == "cpu") return "";
  if (name != "cuda") return "unknown backend " + name + " (expected cpu or cuda)";
  std::string why;
  if (cu::driver(&why) == nullptr) return "backend cuda is unavailable: " + why;
  // The kernels (native/triton, compiled into native/kernels) and their launcher (native/cuda) exist;
  // the op table that drives them from the model has yet to be written and checked on a device.
  return "backend cuda: a GPU is present, but the cuda backend's op table is not implemented yet "
         "(native/cuda has the launcher, native/kernels the kernels)";
}

std::unique_ptr<Backend> make_backend(const std::string& name, std::string* error) {
  *error = backend_unavailable(name);
  if (!error->empty()) return nullptr;
  return make_cpu_backend();
}
