#pragma once
// stub: only the torch launchers (not compiled here) need the real header
