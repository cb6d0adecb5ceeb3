// A DeviceArray holds float, double, int32_t or int64_t.
// expect: kiln::DeviceArray<T>: T is float, double, int32_t or int64_t
#include <kiln/cuda.h>

int main() {
#ifdef KILN_MISUSE
  kiln::DeviceArray<bool>* d = nullptr;
  (void)sizeof(*d);
#else
  kiln::DeviceArray<float>* d = nullptr;
  (void)sizeof(*d);
#endif
}
