// Applies the saved theme before the first paint (see src/hooks/use-theme.ts).
(function () {
  try {
    var saved = localStorage.getItem('whisperchat.theme');
    var dark = saved ? saved === 'dark' : window.matchMedia('(prefers-color-scheme: dark)').matches;
    if (dark) document.documentElement.classList.add('dark');
  } catch {
    /* storage disabled: keep the light theme */
  }
})();
